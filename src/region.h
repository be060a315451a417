/* The state region: a header, then the slots, then the names, then (layout 3) one ring set per
 * slot, at fixed offsets and with no pointers. It lives either in private memory or in a file that
 * every process on the host maps (docs/state-file.md). The tracker code does not care which. */
#ifndef QK_REGION_H
#define QK_REGION_H

#include <stdatomic.h>
#include <stddef.h>

#include "fault.h"
#include "slot.h"

/* 2: slots carry a seal; 3: rolling windows' rings after the names (a layout-2 file is read as
 * it is, and upgraded by growing at a cold open: docs/state-file.md). */
#define QK_LAYOUT_VERSION 3u
#define QK_LAYOUT_SEALED  2u
#define QK_BYTE_ORDER     0x01020304u
/* The first 8 bytes of a ready store area (NUL included), which a state file carries on the
 * first page boundary past its region. Spelt here, below the store, which writes it
 * (src/store/area.c): the region reads it only to tell whether a layout-2 file has an area,
 * which keeps it at layout 2 (upgrade_layout). */
#define QK__STORE_AREA_MAGIC "QKSTORE"
/* Ceiling on capacity: keeps the region size far from overflow. */
#define QK_CAPACITY_MAX (UINT32_C(1) << 20)

typedef struct {
    /* "QKSTATE" when ready; "QKINIT" while the creator builds it. Published with one 8-byte
     * store, after the checksum, so a creator killed at any point leaves either a file that
     * says it is being built or a complete one. */
    union {
        char text[8];
        uint64_t word;
    } magic;
    uint32_t layout_version; /* QK_LAYOUT_VERSION */
    uint32_t byte_order;     /* QK_BYTE_ORDER as the creator wrote it */
    uint32_t mutex_size, mutex_align;
    uint32_t slot_size;
    uint32_t capacity;
    uint64_t checksum;           /* FNV-1a of the fields above */
    _Atomic uint32_t n_services; /* published with release once a slot is ready */
    uint32_t shared;             /* process-shared robust mutexes and update journals */
    /* All-services operations: an epoch is started under the snapshot lock and committed once
     * every slot is updated, so a crash mid-way rolls every slot back or none (slot.h). */
    _Atomic uint64_t all_op_started, all_op_committed;
    /* Its own 128-byte block: every operation reads n_services above, and taking the snapshot
     * lock must not invalidate that line (nor its adjacent-line prefetch pair). */
    _Alignas(128) pthread_mutex_t snapshot_lock;
} qk_header;

typedef struct {
    qk_header *hdr;
    qk_slot *slots;
    char (*names)[QK_NAME_MAX];
    /* The ring sets (capacity of them) and the zone table; NULL in a layout-2 file. */
    qk_slot_ext ext;
    size_t size;
    int fd;                 /* -1 for private memory */
    qk__fault_watch *watch; /* a state file's SIGBUS guard (fault.h); NULL when unwatched */
    /* When a mutating call last compared the file's size with the mapping (tracker.c), and
     * whether a comparison found it shorter: from then on no call trusts the file. */
    _Atomic int64_t size_checked_ms;
    atomic_int shrunk;
} qk_region;

/* The size of a region of the current layout, or of layout 2 or 3, and this capacity. */
size_t qk__region_size(uint32_t capacity);
size_t qk__region_size_layout(uint32_t layout, uint32_t capacity);

/* Slot s's rings, or NULL where the region has none. */
static inline qk_ring_set *qk__region_rings(const qk_region *r, uint32_t s)
{
    return r->ext.rings != NULL ? &r->ext.rings[s] : NULL;
}

/* The ring sets and the zone table of a checked image (qk__region_check), or NULL at layout 2. */
qk_ring_set *qk__region_image_rings(void *image);
qk_zone_table *qk__region_image_zones(void *image);

/* Services registered so far; a slot below it is fully initialised (acquire pairs with the
 * release that published it). */
static inline uint32_t qk__region_published(const qk_region *r)
{
    return atomic_load_explicit(&r->hdr->n_services, memory_order_acquire);
}

/* Index of the service called name among the first n, or -1. */
int qk__region_find_name(const qk_region *r, const char *name, uint32_t n);

/* Private memory, fully initialised. QK_ENOMEM. */
int qk__region_new_private(qk_region *r, uint32_t capacity);

/* Opens or creates the state file at path (docs/state-file.md); with readonly, opens an existing,
 * finished file only (QK_EIO otherwise). *created tells whether this call built it; *cold whether
 * no other process had it open, in which case its slots were checked and repaired. A warm file's
 * slots are the caller's to check, under their locks. On success the caller holds the file's open
 * lock until qk__region_open_done. QK_EIO, QK_ECORRUPT (the file is left untouched), QK_EINVAL. */
int qk__region_open_file(qk_region *r, const char *path, unsigned mode, uint32_t capacity,
                         int readonly, int *created, int *cold);
void qk__region_open_done(qk_region *r);

/* Checks an image no process is using (header and every slot) before anything trusts it.
 * Returns QK_OK or QK_ECORRUPT with why. */
int qk__region_check(const void *image, size_t size, char *why, size_t why_len);
/* The header alone: it never changes once the file is ready. */
int qk__region_check_header(const void *image, size_t size, char *why, size_t why_len);
/* One published slot, with the region's ring sets and zone table (ext; NULL members in a
 * layout-2 file), and its name; committed_epoch: the header's, which says what recovery of an
 * open journal keeps; for a file in use, call
 * it with the slot's lock held. */
int qk__region_check_slot(const qk_slot *sl, const qk_slot_ext *ext, uint64_t committed_epoch,
                          const char *name, uint32_t s, char *why, size_t why_len);

/* After pthread_mutex_lock(m) failed with rc: when the last owner of m died holding it (robust
 * mutexes in a state file), repairs what it guarded (slot sl, or nothing for the snapshot lock)
 * and makes m usable again. Out of line: private mutexes never get here. QK_ECORRUPT. */
int qk__region_lock_failed(qk_region *r, pthread_mutex_t *m, qk_slot *sl, int rc);

/* Whether the state file still has the size it was mapped with: a file truncated under a live
 * process would kill it with SIGBUS at the next access past its new end. Call it before taking a
 * lock in the region; a truncation after the check still faults (docs/state-file.md). QK_OK for
 * private memory; QK_ECORRUPT, or QK_EIO when fstat fails. */
int qk__region_size_ok(qk_region *r);
/* qk__region_check_slot for published slot s of r, with its lock held: QK_ECORRUPT with the
 * message set. */
int qk__region_verify_slot(const qk_region *r, uint32_t s);

/* Whether the state file was found truncated: its mapping lost to a fault (fault.h; accesses
 * then read zeros, so every answer computed since is void), or its size seen shorter. */
static inline int qk__region_lost(const qk_region *r)
{
    return qk__fault_lost(r->watch) || atomic_load_explicit(&r->shrunk, memory_order_relaxed);
}
/* The error for a lost mapping: QK_ECORRUPT, message set. Out of line. */
int qk__region_lost_error(const qk_region *r);

/* A mutating call's cheap guard, with the slot's lock held: QK_OK when published slot s still
 * holds its seal; otherwise QK_ECORRUPT, message set (out of line). For a state file only. */
int qk__region_seal_failed(const qk_region *r, uint32_t s);
static inline int qk__region_check_seal(const qk_region *r, uint32_t s)
{
    const qk_slot *sl = &r->slots[s];
    return __builtin_expect(qk__slot_sealed(sl), 1) ? QK_OK : qk__region_seal_failed(r, s);
}

/* At most every interval_ms of the caller's clock (and whenever now goes back),
 * qk__region_size_ok: a file truncated to a size that leaves the pages a call touches in place
 * raises no fault, so mutating calls look at the size now and then. */
int qk__region_size_ok_every(qk_region *r, int64_t now_ms, int64_t interval_ms);

int qk__region_flush(qk_region *r);
void qk__region_free(qk_region *r);

/* Mutex initialisation for the region's kind (robust and process-shared for files). */
void qk__region_init_mutex(const qk_region *r, pthread_mutex_t *m);

#endif
