/* The store area's layout: a tracker's leases and the host's store health, beside the region
 * (in private memory, or appended to the state file so every process of the host shares them).
 * area.c makes, checks and maps it; the engine reads and writes it under the slot locks. */
#ifndef QK_STORE_AREA_H
#define QK_STORE_AREA_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "region.h"
#include "store/health.h"
#include "store/lease.h"

/* The store area: a header, then one qk__store_slot per slot of the region. In a state file it
 * starts on the first page boundary after the region, so older libraries, which never look
 * there, still open the file. */
typedef struct {
    union {
        char text[8];
        uint64_t word;
    } magic; /* "QKSTORE" once ready */
    uint32_t version;
    uint32_t capacity;
    uint32_t slot_size;
    uint32_t pad;
    char host_id[40]; /* 32 hex digits, drawn when the area is made */
    /* The host's, shared by its processes; written at every sync, so in a block of its own. */
    _Alignas(128) qk__store_health health;
} qk__store_area_header;

typedef struct {
    qk__store_area_header *hdr;
    qk__store_slot *slots;
    size_t size;
    int mapped;             /* 1: mmap of the state file; 0: heap */
    qk__fault_watch *watch; /* a mapping's SIGBUS guard (src/fault.h) */
} qk__store_area;

/* Makes or opens the area of region r: in memory for a private region, else mapped from the
 * state file past the region (the caller holds its open lock). QK_ENOMEM, QK_EIO, QK_ECORRUPT. */
int qk__store_area_open(qk__store_area *a, const qk_region *r);
void qk__store_area_close(qk__store_area *a);

#endif
