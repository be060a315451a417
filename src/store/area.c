/* The store area: where a tracker keeps its leases. Private trackers keep it in memory; a state
 * file gets it appended, on the first page boundary past the region, so that every process of
 * the host shares one lease per window and a restart resends exactly what the store has not
 * seen. Appending moves no byte of the region: a file written before the store existed is
 * upgraded in place, and older libraries still open it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "store/area.h"

/* 3: 128-byte blocks for the health and every slot; 4: the leases' gates */
#define AREA_VERSION 4u
/* The region below spells it (region.h), to tell a layout-2 file that carries an area. */
_Static_assert(sizeof QK__STORE_AREA_MAGIC == 8, "the area's magic is one word");

static uint64_t magic_word(void)
{
    uint64_t w;
    memcpy(&w, QK__STORE_AREA_MAGIC, sizeof w);
    return w;
}

/* The header is a whole number of 128-byte blocks, so every slot after it starts one. */
_Static_assert(sizeof(qk__store_area_header) % _Alignof(qk__store_slot) == 0,
               "store slots must start on their alignment");

static size_t area_size(uint32_t capacity)
{
    return sizeof(qk__store_area_header) + (size_t)capacity * sizeof(qk__store_slot);
}

/* 128 random bits as hex: the host's name in the store. Drawn once per area, so a restart on
 * the same file is the same host, and two files are never one. */
static int draw_host_id(char out[40])
{
    unsigned char bytes[16];
    size_t got = 0;
    while (got < sizeof bytes) {
        const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno != EINTR)
            return qk__fail(QK_EIO, "cannot draw a host id: %s", strerror(errno));
        if (n > 0)
            got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    return QK_OK;
}

static int init_header(qk__store_area_header *h, uint32_t capacity)
{
    h->version = AREA_VERSION;
    h->capacity = capacity;
    h->slot_size = sizeof(qk__store_slot);
    const int rc = draw_host_id(h->host_id);
    if (rc == QK_OK) /* last: a creator that dies before this leaves an area made anew */
        __atomic_store_n(&h->magic.word, magic_word(), __ATOMIC_RELEASE);
    return rc;
}

/* A lost mapping stays mapped, as the region's does (src/region.c, unmap_file). */
static void unmap_area(qk__store_area *a)
{
    if (!qk__fault_watch_remove(a->watch))
        munmap(a->hdr, a->size);
    a->watch = NULL;
}

int qk__store_area_open(qk__store_area *a, const qk_region *r)
{
    const uint32_t capacity = r->hdr->capacity;
    const size_t size = area_size(capacity);
    if (r->fd < 0) {
        void *base = aligned_alloc(_Alignof(qk__store_slot), size); /* size: a multiple */
        if (base != NULL)
            memset(base, 0, size);
        if (base == NULL)
            return qk__fail(QK_ENOMEM, "no memory for the leases of %u services", capacity);
        *a = (qk__store_area){base, (qk__store_slot *)((char *)base + sizeof *a->hdr), size, 0,
                              NULL};
        const int rc = init_header(a->hdr, capacity);
        if (rc != QK_OK)
            free(base);
        return rc;
    }
    /* A state file: the caller holds its open lock, so no other process grows or builds the
     * area meanwhile. Processes already running map only the region: growing is safe. */
    const long page = sysconf(_SC_PAGESIZE);
    /* From the region's own size, not r->size: a reopened file maps whole, area included, and
     * an offset past it would build a new area (new host id, leases lost) at every open. */
    const size_t region_size = qk__region_size_layout(r->hdr->layout_version, capacity);
    const off_t offset = (off_t)((region_size + (size_t)page - 1) / (size_t)page * (size_t)page);
    struct stat st;
    if (fstat(r->fd, &st) != 0)
        return qk__fail(QK_EIO, "cannot stat the state file: %s", strerror(errno));
    if (st.st_size < offset + (off_t)size && ftruncate(r->fd, offset + (off_t)size) != 0)
        return qk__fail(QK_EIO, "cannot grow the state file for the store: %s", strerror(errno));
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, offset);
    if (map == MAP_FAILED)
        return qk__fail(QK_EIO, "cannot map the state file's store area: %s", strerror(errno));
    *a = (qk__store_area){map, (qk__store_slot *)((char *)map + sizeof *a->hdr), size, 1, NULL};
    /* Guarded like the region (src/fault.h): a fault here voids the region's tracker too. */
    a->watch = qk__fault_watch_add(map, size, r->watch);
    qk__store_area_header *h = a->hdr;
    if (__atomic_load_n(&h->magic.word, __ATOMIC_ACQUIRE) != magic_word()) {
        memset(map, 0, size); /* a creator died part-way, or the area is new */
        const int rc = init_header(h, capacity);
        if (rc != QK_OK)
            unmap_area(a);
        return rc;
    }
    if (h->version != AREA_VERSION || h->capacity != capacity ||
        h->slot_size != sizeof(qk__store_slot)) {
        unmap_area(a);
        return qk__fail(QK_ECORRUPT,
                        "the state file's store area is version %u for %u services (slot %u "
                        "bytes); this library writes version %u for %u (slot %zu bytes)",
                        h->version, h->capacity, h->slot_size, AREA_VERSION, capacity,
                        sizeof(qk__store_slot));
    }
    return QK_OK;
}

void qk__store_area_close(qk__store_area *a)
{
    if (a->hdr == NULL)
        return;
    if (a->mapped) {
        if (!qk__fault_lost(a->watch))
            msync(a->hdr, a->size, MS_SYNC);
        unmap_area(a);
    } else {
        free(a->hdr);
    }
    a->hdr = NULL;
}
