/* The state region in private memory or in a shared state file (docs/state-file.md).
 *
 * Two open-file-description locks on the state file (Linux OFD locks: per open, so two trackers
 * on one file in one process do not release each other's) coordinate the processes:
 * - the open lock (byte 0), held while a process creates, checks or reconfigures the file, so
 *   exactly one process initialises a new file and the others wait until it is ready;
 * - the alive lock (byte 1), held shared by every process that has the file open. A process that
 *   can take it exclusively knows nobody else is using the file, so it may repair what a crash
 *   or a power loss left behind: stale mutexes and half-written updates. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "region.h"
#include "test_hooks.h"
#include "service_def.h"

#define OPEN_LOCK_BYTE  0
#define ALIVE_LOCK_BYTE 1

static const char MAGIC_READY[8] = "QKSTATE";
static const char MAGIC_BUILDING[8] = "QKINIT";

static uint64_t magic_word(const char text[8])
{
    uint64_t w;
    memcpy(&w, text, sizeof w);
    return w;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static size_t slots_offset(void)
{
    return round_up(sizeof(qk_header), _Alignof(qk_slot));
}

/* Where the ring sets start: right after the names, which is where a layout-2 file ends. */
static size_t rings_offset(uint32_t capacity)
{
    return round_up(slots_offset() + (size_t)capacity * sizeof(qk_slot) +
                        (size_t)capacity * QK_NAME_MAX,
                    _Alignof(qk_slot));
}

static size_t zones_offset(uint32_t capacity)
{
    return round_up(rings_offset(capacity) + (size_t)capacity * sizeof(qk_ring_set),
                    _Alignof(qk_zone_table));
}

size_t qk__region_size_layout(uint32_t layout, uint32_t capacity)
{
    if (layout < 3)
        return rings_offset(capacity);
    return round_up(zones_offset(capacity) + sizeof(qk_zone_table), _Alignof(qk_slot));
}

qk_ring_set *qk__region_image_rings(void *image)
{
    const qk_header *h = image;
    return h->layout_version >= 3 ? (qk_ring_set *)((char *)image + rings_offset(h->capacity))
                                  : NULL;
}

qk_zone_table *qk__region_image_zones(void *image)
{
    const qk_header *h = image;
    return h->layout_version >= 3 ? (qk_zone_table *)((char *)image + zones_offset(h->capacity))
                                  : NULL;
}

size_t qk__region_size(uint32_t capacity)
{
    return qk__region_size_layout(QK_LAYOUT_VERSION, capacity);
}

static uint64_t header_checksum(const qk_header *h)
{
    /* FNV-1a over every field before the checksum. */
    const unsigned char *p = (const unsigned char *)h;
    uint64_t x = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < offsetof(qk_header, checksum); i++)
        x = (x ^ p[i]) * UINT64_C(1099511628211);
    return x;
}

static void place(qk_region *r, void *base, size_t size)
{
    r->hdr = base;
    r->slots = (qk_slot *)((char *)base + slots_offset());
    r->names = (char(*)[QK_NAME_MAX])(r->slots + r->hdr->capacity);
    const int ext = r->hdr->layout_version >= 3;
    r->ext.rings = ext ? (qk_ring_set *)((char *)base + rings_offset(r->hdr->capacity)) : NULL;
    r->ext.zones = ext ? (qk_zone_table *)((char *)base + zones_offset(r->hdr->capacity)) : NULL;
    r->size = size;
}

void qk__region_init_mutex(const qk_region *r, pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    if (r->hdr->shared) {
        pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    }
    pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void init_mutexes(qk_region *r)
{
    qk__region_init_mutex(r, &r->hdr->snapshot_lock);
    for (uint32_t i = 0; i < r->hdr->capacity; i++)
        qk__region_init_mutex(r, &r->slots[i].lock);
}

/* Fills a zeroed image; the magic that marks it ready is the caller's last store. */
static void init_image(qk_region *r, void *base, size_t size, uint32_t capacity, int shared)
{
    qk_header *h = base;
    h->layout_version = QK_LAYOUT_VERSION;
    h->byte_order = QK_BYTE_ORDER;
    h->mutex_size = sizeof(pthread_mutex_t);
    h->mutex_align = _Alignof(pthread_mutex_t);
    h->slot_size = sizeof(qk_slot);
    h->capacity = capacity;
    h->shared = (uint32_t)shared;
    atomic_init(&h->n_services, 0);
    atomic_init(&h->all_op_started, 0);
    atomic_init(&h->all_op_committed, 0);
    place(r, base, size);
    init_mutexes(r);
}

/* The checksum covers the ready magic, so it is computed over a copy that has it, stored, and
 * only then is the magic published, with one 8-byte release store. */
static void publish(qk_header *h)
{
    qk_header copy;
    memcpy(&copy, h, offsetof(qk_header, checksum));
    copy.magic.word = magic_word(MAGIC_READY);
    h->checksum = header_checksum(&copy);
    TEST_POINT(QK_TP_HEADER_CHECKSUMMED, QK_TP_NO_SERVICE); /* state_kill: a kill in between */
    __atomic_store_n(&h->magic.word, magic_word(MAGIC_READY), __ATOMIC_RELEASE);
}

int qk__region_find_name(const qk_region *r, const char *name, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(r->names[i], name) == 0)
            return (int)i;
    return -1;
}

int qk__region_new_private(qk_region *r, uint32_t capacity)
{
    const size_t size = qk__region_size(capacity);
    void *base = aligned_alloc(_Alignof(qk_slot), size);
    if (base == NULL)
        return qk__fail(QK_ENOMEM, "no memory for %u service slots", capacity);
    memset(base, 0, size);
    r->fd = -1;
    r->watch = NULL;
    atomic_init(&r->size_checked_ms, 0);
    atomic_init(&r->shrunk, 0);
    init_image(r, base, size, capacity, 0);
    publish(r->hdr);
    return QK_OK;
}

/* Besides the definition's invariants, what ties a window's words together (docs/state-file.md,
 * "Bad files"): its bounds are the calendar period that starts at start_ms, so a changed bit in
 * start_ms or end_ms breaks the equalities (a period starts on a whole second and 2^k ms never
 * is one), and its stored level is the level of its count, so a changed count that crosses a
 * threshold, or reaches the limit, is caught too. A count that stays within its level cannot be
 * told from a real one: nothing in the file records it twice. */
/* A rolling window's bounds are its buckets' (ring.h): 51 buckets from a bucket boundary. */
static int rolling_bounds_ok(const qk_window *w)
{
    if (w->period == QK_MONTH || w->period == QK_FOREVER)
        return 0;
    const int64_t g = qk__ring_bucket_ms(w);
    int64_t span;
    return g > 0 && w->start_ms % g == 0 &&
           !__builtin_sub_overflow(w->end_ms, w->start_ms, &span) &&
           span == (QK_RING_BUCKETS + 1) * g;
}

/* A zoned window's bounds are its zone's local midnights around its start. */
static int zoned_bounds_ok(const qk_window *w, const qk_zone_table *zones)
{
    const qk__zone *z = qk__zones_get(zones, w->zone);
    if (z == NULL || qk__tz_check(z) != 0 ||
        (w->period != QK_DAY && w->period != QK_WEEK && w->period != QK_MONTH) ||
        (w->flags & QK_WINDOW_ROLLING))
        return 0;
    int64_t start, end;
    qk__span_zoned(z, (qk_period)w->period, qk__window_every(w), w->start_ms, &start, &end);
    return start == w->start_ms && end == w->end_ms;
}

static int window_ok(const qk_window *w, uint64_t reserve, const qk_slot_ext *ext)
{
    const int has_rings = ext != NULL && ext->rings != NULL;
    if (!(qk__period_valid(w->period) && w->limit != 0 && reserve < w->limit &&
          w->warn_at <= w->critical_at && w->critical_at <= w->limit &&
          w->level <= QK_LEVEL_EXHAUSTED && w->start_ms <= w->end_ms))
        return 0;
    if (w->flags & ~(unsigned)QK_WINDOW_ROLLING || w->every_m1 == UINT32_MAX ||
        (w->period == QK_FOREVER && w->every_m1 != 0))
        return 0;
    if (w->zone != 0)
        return ext != NULL && zoned_bounds_ok(w, ext->zones) &&
               qk__window_level(w, w->used) == (qk_level)w->level;
    if (w->flags & QK_WINDOW_ROLLING)
        return has_rings && rolling_bounds_ok(w) &&
               qk__window_level(w, w->used) == (qk_level)w->level;
    const qk_period p = (qk_period)w->period;
    const uint32_t every = qk__window_every(w);
    /* The offset is the start's distance from the aligned boundary: a whole second below the
     * window's shortest length, so a flipped bit of start_ms still shows. */
    const int64_t off = qk__span_offset(p, every, w->start_ms);
    if (off % 1000 != 0 || (off != 0 && off >= qk__span_min_length_ms(p, every)))
        return 0;
    return qk__span_start(p, every, off, w->start_ms) == w->start_ms &&
           qk__span_end(p, every, w->start_ms) == w->end_ms &&
           qk__window_level(w, w->used) == (qk_level)w->level;
}

/* Whether windows ws[0..n) have a rolling one, and none's closed buckets in r hold more than its
 * count. */
static int buckets_fit(const qk_window *ws, unsigned n, const qk_ring_state *r, int *rolling,
                       unsigned *bad)
{
    *rolling = 0;
    for (unsigned i = 0; i < n && i < QK_MAX_WINDOWS; i++) {
        if (!(ws[i].flags & QK_WINDOW_ROLLING))
            continue;
        *rolling = 1;
        if (qk__ring_closed(r, i) > ws[i].used) {
            *bad = i;
            return 0;
        }
    }
    return 1;
}

/* The ring recovery will leave: with a closed journal the live one; with an open one the undo
 * copy when recovery restores it (this update changed it and is rolled back), else the live one
 * beside the windows recovery keeps. A ring recovery keeps must hold its seal (an update reseals
 * after each change, so only a kill inside the change breaks it, and that change is restored);
 * every kept or restored ring must fit its windows' counts. */
static int rings_ok(const qk_slot *sl, const qk_ring_set *rs, uint64_t committed_epoch, uint32_t s,
                    const char *name, char *why, size_t why_len)
{
    const int open = (sl->journal & 1u) != 0;
    const int committed = open && sl->undo_epoch != 0 && sl->undo_epoch <= committed_epoch;
    const int rolled_back = open && !committed;
    const qk_window *ws = rolled_back ? sl->undo : sl->w;
    const unsigned n = rolled_back ? sl->undo_n_windows : sl->n_windows;
    const int restored = rolled_back && rs->undo_journal == sl->journal;
    const qk_ring_state *r = restored ? &rs->undo : &rs->live;
    int rolling;
    unsigned bad = 0;
    const int fit = buckets_fit(ws, n, r, &rolling, &bad);
    if (!rolling)
        return QK_OK;
    if (!restored && rs->seal != qk__ring_seal_of(&rs->live)) {
        snprintf(why, why_len,
                 "service %u (service '%s'): its rolling windows' buckets fail their seal", s,
                 name);
        return QK_ECORRUPT;
    }
    if (!fit) {
        snprintf(why, why_len,
                 "service %u (service '%s') window %u: its buckets hold more than its count", s,
                 name, bad);
        return QK_ECORRUPT;
    }
    return QK_OK;
}

int qk__region_check_slot(const qk_slot *sl, const qk_slot_ext *ext, uint64_t committed_epoch,
                          const char *name, uint32_t s, char *why, size_t why_len)
{
    const qk_ring_set *rs = ext != NULL && ext->rings != NULL ? &ext->rings[s] : NULL;
    if (sl->n_windows == 0 || sl->n_windows > QK_MAX_WINDOWS) {
        snprintf(why, why_len, "service %u has %u windows", s, sl->n_windows);
        return QK_ECORRUPT;
    }
    /* The name only once it is known to be printable. */
    const size_t len = strnlen(name, QK_NAME_MAX);
    const int name_ok = len > 0 && len < QK_NAME_MAX && qk__name_bad_char(name, len) == len;
    for (unsigned i = 0; i < sl->n_windows; i++)
        if (!window_ok(&sl->w[i], sl->reserve, ext)) {
            snprintf(why, why_len,
                     "service %u window %u is inconsistent (service '%s', window %u: count %llu, "
                     "bounds %lld..%lld, level %u)",
                     s, i, name_ok ? name : "?", i, (unsigned long long)sl->w[i].used,
                     (long long)sl->w[i].start_ms, (long long)sl->w[i].end_ms, sl->w[i].level);
            return QK_ECORRUPT;
        }
    /* An update in flight when its process died: the undo copy is what recovery restores, so
     * it must be as sound as the live state. */
    if (sl->journal & 1u) {
        if (sl->undo_n_windows == 0 || sl->undo_n_windows > QK_MAX_WINDOWS) {
            snprintf(why, why_len, "service %u: interrupted update with %u saved windows", s,
                     sl->undo_n_windows);
            return QK_ECORRUPT;
        }
        for (unsigned i = 0; i < sl->undo_n_windows; i++)
            if (!window_ok(&sl->undo[i], sl->undo_reserve, ext)) {
                snprintf(why, why_len, "service %u: saved window %u is inconsistent", s, i);
                return QK_ECORRUPT;
            }
    }
    if (!name_ok) {
        snprintf(why, why_len, "service %u has an invalid name", s);
        return QK_ECORRUPT;
    }
    /* Only a closed journal's words are sealed: an open one is rolled back by recovery. */
    if ((sl->journal & 1u) == 0 && !qk__slot_sealed(sl)) {
        snprintf(why, why_len,
                 "service %u (service '%s') fails its seal: a count, bound or limit of its "
                 "windows was changed outside the library",
                 s, name);
        return QK_ECORRUPT;
    }
    return rs != NULL ? rings_ok(sl, rs, committed_epoch, s, name, why, why_len) : QK_OK;
}

/* A layout-2 header whose checksum is already the layout-3 one: an upgrade (upgrade_layout)
 * stopped between its two stores. It is read as layout 2; the next cold open finishes it. */
static int upgrade_interrupted(const qk_header *h)
{
    if (h->layout_version != QK_LAYOUT_SEALED)
        return 0;
    qk_header copy;
    memcpy(&copy, h, offsetof(qk_header, checksum));
    copy.layout_version = QK_LAYOUT_VERSION;
    return h->checksum == header_checksum(&copy);
}

int qk__region_check_header(const void *image, size_t size, char *why, size_t why_len)
{
    const qk_header *h = image;
    if (size < sizeof *h) {
        snprintf(why, why_len, "truncated: %zu bytes, the header alone needs %zu", size, sizeof *h);
        return QK_ECORRUPT;
    }
    if (h->magic.word != magic_word(MAGIC_READY)) {
        snprintf(why, why_len, "not a quotakeeper state file (bad magic)");
        return QK_ECORRUPT;
    }
    if (h->byte_order != QK_BYTE_ORDER) {
        snprintf(why, why_len, "written on a machine of another byte order");
        return QK_ECORRUPT;
    }
    if (h->checksum != header_checksum(h) && !upgrade_interrupted(h)) {
        snprintf(why, why_len, "header checksum mismatch");
        return QK_ECORRUPT;
    }
    if (h->layout_version != QK_LAYOUT_VERSION && h->layout_version != QK_LAYOUT_SEALED) {
        snprintf(why, why_len, "layout version %u; this library reads versions %u and %u",
                 h->layout_version, QK_LAYOUT_SEALED, QK_LAYOUT_VERSION);
        return QK_ECORRUPT;
    }
    if (h->mutex_size != sizeof(pthread_mutex_t) || h->mutex_align != _Alignof(pthread_mutex_t) ||
        h->slot_size != sizeof(qk_slot)) {
        snprintf(why, why_len, "written by a build with other type sizes (mutex %u, slot %u)",
                 h->mutex_size, h->slot_size);
        return QK_ECORRUPT;
    }
    if (h->shared != 1) {
        snprintf(why, why_len, "not marked as a shared region");
        return QK_ECORRUPT;
    }
    if (h->capacity == 0 || h->capacity > QK_CAPACITY_MAX) {
        snprintf(why, why_len, "capacity %u is out of range", h->capacity);
        return QK_ECORRUPT;
    }
    const size_t need = qk__region_size_layout(h->layout_version, h->capacity);
    if (size < need) {
        snprintf(why, why_len, "truncated: %zu bytes, %u slots need %zu", size, h->capacity, need);
        return QK_ECORRUPT;
    }
    const uint32_t n = atomic_load_explicit(&h->n_services, memory_order_acquire);
    if (n > h->capacity) {
        snprintf(why, why_len, "%u services in %u slots", n, h->capacity);
        return QK_ECORRUPT;
    }
    return QK_OK;
}

int qk__region_check(const void *image, size_t size, char *why, size_t why_len)
{
    int rc = qk__region_check_header(image, size, why, why_len);
    if (rc != QK_OK)
        return rc;
    const qk_header *h = image;
    const uint32_t n = atomic_load_explicit(&h->n_services, memory_order_acquire);
    const qk_slot *slots = (const qk_slot *)((const char *)image + slots_offset());
    const char(*names)[QK_NAME_MAX] = (const char(*)[QK_NAME_MAX])(slots + h->capacity);
    const int ext3 = h->layout_version >= 3;
    const qk_slot_ext ext = {
        ext3 ? (qk_ring_set *)((const char *)image + rings_offset(h->capacity)) : NULL,
        ext3 ? (qk_zone_table *)((const char *)image + zones_offset(h->capacity)) : NULL};
    if (ext3) {
        /* The zones every window's tz is computed from: each as qk__tz_load compiled it. */
        const qk_zone_table *zt = ext.zones;
        const uint32_t nz = atomic_load_explicit(&zt->n_zones, memory_order_acquire);
        if (nz > QK_ZONES_MAX) {
            snprintf(why, why_len, "%u zones in a table of %u", nz, QK_ZONES_MAX);
            return QK_ECORRUPT;
        }
        for (uint32_t z = 0; z < nz; z++)
            if (qk__tz_check(&zt->zone[z]) != 0) {
                snprintf(why, why_len, "zone %u of the zone table is damaged", z);
                return QK_ECORRUPT;
            }
    }
    for (uint32_t s = 0; s < n; s++) {
        rc = qk__region_check_slot(&slots[s], &ext, atomic_load(&h->all_op_committed), names[s], s,
                                   why, why_len);
        if (rc != QK_OK)
            return rc;
        /* Quadratic, so bounded: a duplicate only makes qk_service_find pick the first. */
        for (uint32_t o = 0; n <= 4096 && o < s; o++)
            if (strcmp(names[o], names[s]) == 0) {
                snprintf(why, why_len, "services %u and %u share the name '%s'", o, s, names[s]);
                return QK_ECORRUPT;
            }
    }
    return QK_OK;
}

int qk__region_lost_error(const qk_region *r)
{
    return qk__fail(QK_ECORRUPT,
                    "the state file shrank while open (it needs %zu bytes): someone truncated it; "
                    "its counts are gone and this tracker no longer counts",
                    r->size);
}

int qk__region_seal_failed(const qk_region *r, uint32_t s)
{
    if (qk__region_lost(r))
        return qk__region_lost_error(r);
    return qk__region_verify_slot(r, s); /* says which word, or that the seal alone fails */
}

int qk__region_size_ok_every(qk_region *r, int64_t now_ms, int64_t interval_ms)
{
    const int64_t last = atomic_load_explicit(&r->size_checked_ms, memory_order_relaxed);
    if (now_ms >= last && now_ms - last < interval_ms)
        return QK_OK;
    atomic_store_explicit(&r->size_checked_ms, now_ms, memory_order_relaxed);
    return qk__region_size_ok(r);
}

int qk__region_size_ok(qk_region *r)
{
    if (r->fd < 0)
        return QK_OK;
    if (qk__region_lost(r))
        return qk__region_lost_error(r);
    struct stat st;
    if (fstat(r->fd, &st) != 0)
        return qk__fail(QK_EIO, "cannot stat the state file: %s", strerror(errno));
    if (st.st_size < 0 || (uint64_t)st.st_size < r->size) {
        atomic_store_explicit(&r->shrunk, 1, memory_order_relaxed);
        return qk__fail(QK_ECORRUPT,
                        "the state file shrank to %lld bytes while open (it needs %zu): someone "
                        "truncated it; its counts are gone",
                        (long long)st.st_size, r->size);
    }
    return QK_OK;
}

int qk__region_verify_slot(const qk_region *r, uint32_t s)
{
    char why[256];
    if (qk__region_check_slot(&r->slots[s], &r->ext, atomic_load(&r->hdr->all_op_committed),
                              r->names[s], s, why, sizeof why) != QK_OK)
        return qk__fail(QK_ECORRUPT, "state file: %s", why);
    return QK_OK;
}

static int ofd_lock(int fd, int byte, short type, int wait)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    int rc;
    do
        rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
    while (rc != 0 && errno == EINTR);
    return rc;
}

static int io_error(int fd, const char *what, const char *path)
{
    const int err = errno;
    close(fd);
    return qk__fail(QK_EIO, "%s '%s': %s", what, path, strerror(err));
}

/* Maps the file and watches the mapping for a truncation under it (fault.h). */
static void *map_file(qk_region *r, int fd, size_t size)
{
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return NULL;
    r->watch = qk__fault_watch_add(map, size, NULL);
    return map;
}

/* A lost mapping stays: a thread's robust-mutex list may still point into it. */
static void unmap_file(qk_region *r, void *map, size_t size)
{
    if (!qk__fault_watch_remove(r->watch))
        munmap(map, size);
    r->watch = NULL;
}

/* Builds a new state file. The "QKINIT" magic goes to disk first, so a creator that dies
 * part-way leaves a file the next opener (holding the open lock, so the creator is gone)
 * recognises and rebuilds, rather than one that looks foreign. */
static int create_image(qk_region *r, int fd, uint32_t capacity, const char *path)
{
    const size_t size = qk__region_size(capacity);
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, MAGIC_BUILDING, sizeof MAGIC_BUILDING, 0) != (ssize_t)sizeof MAGIC_BUILDING)
        return io_error(fd, "cannot size state file", path);
    /* Every block is reserved before the file is mapped: a sparse file on a full filesystem
     * would otherwise kill the process with SIGBUS at the first store to a page without one.
     * Left "QKINIT" on failure, so the next opener rebuilds it. */
    const int err = posix_fallocate(fd, 0, (off_t)size);
    if (err != 0) {
        close(fd);
        return qk__fail(QK_EIO, "cannot reserve %zu bytes for state file '%s': %s", size, path,
                        strerror(err));
    }
    void *map = map_file(r, fd, size);
    if (map == NULL)
        return io_error(fd, "cannot map state file", path);
    r->fd = fd;
    init_image(r, map, size, capacity, 1);
    publish(r->hdr);
    return QK_OK;
}

/* Layout 2 to 3 at a cold open, so no process has the old mapping: the file grows by the ring
 * sets (zeros: no rolling window yet) and no slot moves. The header's checksum is stored before
 * its version, so a crash in between leaves a header check_header reads as layout 2 (an
 * interrupted upgrade), never a torn one. Failing to grow keeps the file at layout 2: everything
 * but rolling windows works as before (qk__tracker_rings_missing says why at their definition). */
static void upgrade_layout(qk_region *r)
{
    const size_t size = qk__region_size_layout(QK_LAYOUT_VERSION, r->hdr->capacity);
    /* A store's area follows the region (store/area.c), on the first page boundary past its
     * layout-2 end: a file that has one keeps layout 2, which rolling windows with a store do not
     * need yet. It is told by the area's magic, not by the file's size: an upgrade killed after
     * the file grew leaves a larger file with no area, and that one must still be finished. */
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t area = round_up(qk__region_size_layout(QK_LAYOUT_SEALED, r->hdr->capacity), page);
    if (r->size >= area + sizeof QK__STORE_AREA_MAGIC &&
        memcmp((const char *)r->hdr + area, QK__STORE_AREA_MAGIC, sizeof QK__STORE_AREA_MAGIC) == 0)
        return;
    if (r->size < size) {
        if (posix_fallocate(r->fd, 0, (off_t)size) != 0)
            return;
        void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
        if (map == MAP_FAILED)
            return;
        unmap_file(r, r->hdr, r->size);
        r->watch = qk__fault_watch_add(map, size, NULL);
        place(r, map, size);
    }
    const size_t from = rings_offset(r->hdr->capacity);
    memset((char *)r->hdr + from, 0, size - from); /* the ring sets and the zone table */
    qk_header *h = r->hdr;
    qk_header copy;
    memcpy(&copy, h, offsetof(qk_header, checksum));
    copy.layout_version = QK_LAYOUT_VERSION;
    h->checksum = header_checksum(&copy);
    TEST_POINT(QK_TP_LAYOUT_HALF_UPGRADED, QK_TP_NO_SERVICE);
    __atomic_store_n(&h->layout_version, QK_LAYOUT_VERSION, __ATOMIC_RELEASE);
    place(r, h, r->size);
    msync(h, r->size, MS_SYNC);
}

/* Nobody else has the file open: mutexes may hold the thread ids of dead processes (after a
 * power loss the kernel never marked them), and slots may hold half-written updates. */
static void repair_cold(qk_region *r)
{
    init_mutexes(r);
    const uint64_t committed = atomic_load(&r->hdr->all_op_committed);
    const uint32_t n = atomic_load(&r->hdr->n_services);
    for (uint32_t s = 0; s < n; s++)
        qk__slot_recover(&r->slots[s], qk__region_rings(r, s), committed);
}

int qk__region_open_file(qk_region *r, const char *path, unsigned mode, uint32_t capacity,
                         int readonly, int *created, int *cold)
{
#ifndef QK_HAVE_ROBUST_MUTEX
    /* Without robust mutexes a process that died holding a lock would block every other one
     * for good: no state file rather than one that can hang (CMakeLists.txt runs the check). */
    (void)r, (void)mode, (void)capacity, (void)readonly, (void)created, (void)cold;
    return qk__fail(QK_EIO, "state file '%s': this build has no robust process-shared mutexes",
                    path);
#endif
    r->watch = NULL;
    atomic_init(&r->size_checked_ms, 0);
    atomic_init(&r->shrunk, 0);
    /* Read-only still opens for writing: reading a consistent cut takes the file's locks. */
    const int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (readonly ? 0 : O_CREAT), mode);
    if (fd < 0)
        return qk__fail(QK_EIO, "cannot open state file '%s': %s", path, strerror(errno));
    if (ofd_lock(fd, OPEN_LOCK_BYTE, F_WRLCK, 1) != 0)
        return io_error(fd, "cannot lock state file", path);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return io_error(fd, "cannot stat state file", path);
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qk__fail(QK_EIO, "state file '%s' is not a regular file", path);
    }
    char magic[sizeof MAGIC_BUILDING] = {0};
    if (st.st_size > 0 && pread(fd, magic, sizeof magic, 0) < 0)
        return io_error(fd, "cannot read state file", path);

    /* An empty file, or one whose creator died while building it (it held the open lock we
     * now hold, so it is gone), is built afresh. */
    *created = st.st_size == 0 || memcmp(magic, MAGIC_BUILDING, sizeof magic) == 0;
    /* ... but only while nobody has it open: a finished file is in use from the moment its
     * creator publishes it, so an empty or half-built file that another process holds (the
     * alive lock) was truncated or overwritten under it, and rebuilding it would take lost
     * counts for a fresh start. */
    if (*created && !readonly) {
        if (ofd_lock(fd, ALIVE_LOCK_BYTE, F_WRLCK, 0) != 0) {
            const int busy = errno == EAGAIN || errno == EACCES;
            if (!busy)
                return io_error(fd, "cannot lock state file", path);
            close(fd);
            return qk__fail(QK_ECORRUPT,
                            "state file '%s' is %s but another process has it open: it was "
                            "truncated or overwritten under it, not new",
                            path, st.st_size == 0 ? "empty" : "marked as being created");
        }
        struct flock un = {
            .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = ALIVE_LOCK_BYTE, .l_len = 1};
        fcntl(fd, F_OFD_SETLK, &un);
    }
    if (*created && readonly) {
        close(fd);
        return qk__fail(QK_EIO, "state file '%s' is not finished yet (empty or being created)",
                        path);
    }
    if (*created && capacity == 0) {
        close(fd);
        return qk__fail(QK_EINVAL, "state file '%s' is new and capacity is 0", path);
    }
    if (*created) {
        const int rc = create_image(r, fd, capacity, path);
        if (rc != QK_OK)
            return rc;
    } else {
        const size_t size = (size_t)st.st_size;
        void *map = map_file(r, fd, size);
        if (map == NULL)
            return io_error(fd, "cannot map state file", path);
        char why[160];
        if (qk__region_check_header(map, size, why, sizeof why) != QK_OK) {
            unmap_file(r, map, size);
            close(fd);
            return qk__fail(QK_ECORRUPT, "state file '%s': %s", path, why);
        }
        r->fd = fd;
        place(r, map, size);
    }
    *cold = ofd_lock(fd, ALIVE_LOCK_BYTE, F_WRLCK, 0) == 0;
    if (*cold && !*created) {
        /* Nobody else can touch the slots: check them all, and only then repair. */
        char why[160];
        if (qk__region_check(r->hdr, r->size, why, sizeof why) != QK_OK) {
            unmap_file(r, r->hdr, r->size);
            close(fd);
            return qk__fail(QK_ECORRUPT, "state file '%s': %s", path, why);
        }
        repair_cold(r);
        if (!readonly && r->hdr->layout_version < QK_LAYOUT_VERSION)
            upgrade_layout(r);
    }
    /* A cold opener turns its exclusive alive lock into a shared one (atomically); a warm one
     * waits only for a cold opener's repair, which holds the open lock we hold, so never. */
    if (ofd_lock(fd, ALIVE_LOCK_BYTE, F_RDLCK, 1) != 0) {
        const int err = errno;
        unmap_file(r, r->hdr, r->size);
        close(fd);
        return qk__fail(QK_EIO, "cannot lock state file '%s': %s", path, strerror(err));
    }
    return QK_OK;
}

void qk__region_open_done(qk_region *r)
{
    if (r->fd >= 0) {
        struct flock fl = {
            .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = OPEN_LOCK_BYTE, .l_len = 1};
        fcntl(r->fd, F_OFD_SETLK, &fl);
    }
}

__attribute__((noinline)) int qk__region_lock_failed(qk_region *r, pthread_mutex_t *m, qk_slot *sl,
                                                     int rc)
{
    if (rc == EOWNERDEAD) {
        /* The snapshot lock guards nothing that can be torn: service_add publishes a slot with
         * one store, and all-services updates are journaled slot by slot. */
        if (sl != NULL)
            qk__slot_recover(sl, qk__region_rings(r, (uint32_t)(sl - r->slots)),
                             atomic_load(&r->hdr->all_op_committed));
        rc = pthread_mutex_consistent(m);
    }
    if (rc != 0)
        return qk__fail(QK_ECORRUPT, "cannot take a lock of the state: %s", strerror(rc));
    return QK_OK;
}

int qk__region_flush(qk_region *r)
{
    if (r->fd >= 0 && msync(r->hdr, r->size, MS_SYNC) != 0)
        return qk__fail(QK_EIO, "cannot flush the state file: %s", strerror(errno));
    return QK_OK;
}

void qk__region_free(qk_region *r)
{
    if (r->fd < 0) {
        /* Private memory: no other process can hold these mutexes. */
        for (uint32_t i = 0; i < r->hdr->capacity; i++)
            pthread_mutex_destroy(&r->slots[i].lock);
        pthread_mutex_destroy(&r->hdr->snapshot_lock);
        free(r->hdr);
        return;
    }
    if (!qk__region_lost(r))
        msync(r->hdr, r->size, MS_SYNC);
    unmap_file(r, r->hdr, r->size);
    close(r->fd); /* releases this process's OFD locks */
}
