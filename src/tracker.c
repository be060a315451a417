/* The operations: the public API over the slots (opening and closing: tracker_open.c).
 *
 * Lock hierarchy (docs/design.md): the snapshot lock, then slot locks by ascending index.
 * - Single-service operations take only their own slot lock.
 * - Operations over all services (snapshot, reset_all) and service_add take the snapshot lock
 *   first; the all-services ones then take every slot lock in ascending order.
 * - A caller's clock is read, and events are delivered, with no lock held (the built-in clock
 *   of a private tracker is read under its slot lock: no callback).
 * In a shared state file every update is journaled in its slot, so a process killed while it
 * holds a lock leaves nothing torn (slot.h, docs/state-file.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "locking.h"
#include "service_def.h"
#include "store/guard.h"
#include "tracker.h"

#ifdef QK_MUTANT_RACY_RECORD
#include "mutant.h"
#endif

#include "test_hooks.h"
#ifdef QK_TEST_HOOKS
void (*qk__test_hook)(qk_test_point point, uint32_t service);
#endif

void qk__deliver(qk_tracker *t, qk_event *ev, size_t n)
{
    if (t->on_event == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        /* A callback written before version 3 knows level changes only. */
        if (ev[i].kind != QK_EVENT_LEVEL && t->api_version < 3)
            continue;
        ev[i].name = ev[i].kind == QK_EVENT_LEVEL ? t->names[ev[i].service] : NULL;
        t->on_event(&ev[i], t->payload);
    }
}

static int check_service(const qk_tracker *t, qk_service s)
{
    const uint32_t n = qk__published(t);
    if (s >= n)
        return qk__fail(QK_ENOENT, "service index %u is not registered (%u services)", s, n);
    return QK_OK;
}

/* Which compiled path an operation runs (`special`, a constant in every caller): the private
 * one, the one of every other tracker, which reads the mode word, or the one of the common store
 * tracker (private, on the built-in clock), whose mode is then a constant too. */
typedef enum {
    QK__PATH_PRIVATE = 0, /* a private tracker: no mode bit set */
    QK__PATH_SPECIAL = 1, /* every other tracker: its mode word is read */
    QK__PATH_STORE = 2,   /* the common store tracker: its mode a constant, QK__STORE_MODE */
} qk__path;
#define QK__STORE_MODE (QK__MODE_STORE | QK__MODE_STORE_SYSCLOCK)
/* How often, on the tracker's clock, a mutating call on a state file compares the file's size
 * with its mapping: an fstat costs about 1.2 us here, too much for every call. */
#define QK__SIZE_CHECK_MS 100

static inline __attribute__((always_inline)) unsigned path_mode(const qk_tracker *t,
                                                                qk__path special)
{
    return special == QK__PATH_STORE ? QK__STORE_MODE : special ? t->mode : 0;
}

/* Applies op to a locked slot: directly for a private tracker; for the others (`special`),
 * journaled when the slot is shared between processes, through the leases with a store, and not
 * at all when read-only (its peeks use view_slot). */
static inline __attribute__((always_inline)) int apply_locked(qk_tracker *t, qk_service s,
                                                              const qk_op *op, int64_t now,
                                                              qk_event_sink *sink, int *tripped,
                                                              uint64_t epoch, qk__path special)
{
    qk_slot *sl = &t->slots[s];
    const unsigned mode = path_mode(t, special);
    if (mode & QK__MODE_READONLY)
        return QK_EREADONLY; /* under the lock, before anything changed */
    if (mode & QK__MODE_SHARED)
        qk__slot_begin(sl, epoch, sl->n_windows);
    /* The one apply, with the store's guard or without it: a constant on the private and the
     * store paths, so each compiles only its own. */
    const int rc = (mode & QK__MODE_STORE)
                       ? qk__slot_apply_guarded(sl, &t->region.ext, s, op, now, sink, tripped,
                                                t->store, &t->store->area.slots[s])
                       : qk__slot_apply(sl, &t->region.ext, s, op, now, sink, tripped);
    TEST_POINT(QK_TP_SLOT_UPDATED, s);
    if ((mode & QK__MODE_SHARED) && epoch == 0)
        qk__slot_end(sl);
    return rc;
}

/* A read-only tracker's view of a locked slot: windows that ended are rolled in a copy (of its
 * rings too), so the usage is current and the region is never written. The copy's events are
 * nobody's. */
static void view_slot(const qk_region *r, qk_service s, int64_t now, qk_usage *out)
{
    qk_slot copy;
    memcpy(&copy, &r->slots[s], sizeof copy);
    copy.journal = 0; /* the copy journals nothing */
    qk_ring_set rings_copy;
    qk_slot_ext ext = {NULL, r->ext.zones};
    if (r->ext.rings != NULL) {
        memcpy(&rings_copy, &r->ext.rings[s], sizeof rings_copy);
        ext.rings = &rings_copy;
    }
    qk_event_sink none = {NULL, 0, 0};
    const qk_op peek = {QK_OP_PEEK, 0, 0, 0};
    int unused = -1;
    /* The copy's ring is its only one: service 0 for the apply, whose events go nowhere. */
    qk__slot_apply(&copy, &ext, 0, &peek, now, &none, &unused);
    qk__slot_usage(&copy, s, -1, out);
}

static int refuse_readonly(const char *what)
{
    return qk__fail(QK_EREADONLY, "cannot %s: the tracker was opened with QK_OPEN_READONLY", what);
}

/* The clock of a tracker that is not private: a store tracker on the built-in clock reads it
 * inline, as the private path does, rather than through a call. */
static inline __attribute__((always_inline)) int64_t special_clock(const qk_tracker *t,
                                                                   unsigned mode)
{
    if (mode & QK__MODE_STORE_SYSCLOCK)
        return qk__store_clock_of(t->store, qk__system_now_ms());
    return qk__tracker_now(t);
}

/* A store tracker's consume refused for want of lease (QK__SINK_NEED_SYNC), out of the hot path:
 * the store syncs and tries once, in the same hold of the slot lock as its merge; if it could
 * not answer, this tracker tries again with what it learnt (the outage policy decides). */
static __attribute__((noinline)) int consume_after_sync(qk_tracker *t, qk_service s, qk_op op,
                                                        qk_usage *out)
{
    unsigned again = 0;
    int rc = QK_OK;
    if (qk__store_sync_for_consume(t->store, s, op.n, op.flags, qk__tracker_now(t), out, &rc,
                                   &again)) {
        if (out != NULL)
            memcpy(out->name, t->names[s], QK_NAME_MAX);
        return rc;
    }
    return qk__consume(t, s, op.n, again, out);
}

/* What a single-service operation that did not answer says, out of the hot path. */
static __attribute__((noinline)) int slot_op_failed(qk_tracker *t, qk_service s, qk_op op, int rc)
{
    switch (rc) {
    case QK_ERANGE:
        return qk__fail(rc, "recording %llu calls to '%s' would overflow a window's count",
                        (unsigned long long)op.n, t->names[s]);
    case QK_EINVAL:
        return qk__fail(rc, "service '%s' has no window %u", t->names[s], op.window);
    case QK_EREADONLY:
        return refuse_readonly("change a count");
    case QK_ECORRUPT: /* the one the apply returns itself (slot.c, qk__slot_roll_ended) */
        return qk__fail(rc,
                        "service '%s': its rolling windows' buckets fail their seal, or a "
                        "window's zone is damaged (changed outside the library); nothing was "
                        "counted",
                        t->names[s]);
    case QK_EUNAVAIL:
        return qk__fail(rc,
                        "service '%s': the store cannot be reached and its outage policy "
                        "allows no more calls past this host's lease",
                        t->names[s]);
    }
    return rc; /* a lock's failure: its message is already set */
}

/* The one path for single-service operations: read the clock, lock the slot, apply, copy the
 * usage out, unlock, then deliver events. Inlined into each operation, whose op is a
 * constant, so each compiles to its own straight path; `special` (a constant too) adds what a
 * tracker that is not private needs. */
static inline __attribute__((always_inline)) int
slot_op(qk_tracker *t, qk_service s, const qk_op *op, qk_usage *out, qk__path special)
{
    /* A state file (docs/state-file.md, "Damage"): a peek reads it with care, its size before
     * anything in it (the header's service count first) and every word of the slot under its
     * lock; the other operations check the slot's seal under the lock, and the size every
     * QK__SIZE_CHECK_MS. Whatever the check, a mapping lost to a truncation (fault.h) voids the
     * answer. op->kind and special are constants: a private tracker pays nothing. */
    const int file = special && (path_mode(t, special) & QK__MODE_SHARED);
    const int careful = file && op->kind == QK_OP_PEEK;
    int rc;
    if (file && qk__region_lost(&t->region))
        return qk__region_lost_error(&t->region);
    if (careful && (rc = qk__region_size_ok(&t->region)) != QK_OK)
        return rc;
    rc = check_service(t, s);
    if (rc != QK_OK)
        return file && qk__region_lost(&t->region) ? qk__region_lost_error(&t->region) : rc;
    /* A private tracker reads the built-in clock under the lock: a vDSO read, no callback, and
     * on a hot service a thread's unlock-to-lock gap is shorter (docs/perf/hot-path.md). A
     * caller's clock is a callback, read before the lock like every clock of the others. */
    const int builtin = !special && t->clock == qk__system_clock_ms;
    int64_t now = builtin   ? 0
                  : special ? special_clock(t, path_mode(t, special))
                            : qk__read_clock(t);
    qk_event ev[QK_EVENTS_PER_SLOT_OP];
    qk_event_sink sink = {t->on_event ? ev : NULL, 0, 0};
    int tripped = -1;

    if (file && !careful && (rc = qk__region_size_ok_every(&t->region, now, QK__SIZE_CHECK_MS)))
        return rc;

    rc = slot_lock(&t->region, s);
    if (rc != QK_OK)
        return rc;
    if (file && (rc = careful ? qk__region_verify_slot(&t->region, s)
                              : qk__region_check_seal(&t->region, s)) != QK_OK) {
        slot_unlock(&t->region, s);
        return rc;
    }
    if (builtin)
        now = qk__system_now_ms();
    rc = apply_locked(t, s, op, now, &sink, &tripped, 0, special);
    const int answered = rc == QK_OK || rc == QK_ELIMIT;
    if (out != NULL && answered) {
        qk__slot_usage(&t->slots[s], s, tripped, out);
        if (rc == QK_ELIMIT)
            qk__slot_usage_refused(&t->slots[s], qk__region_rings(&t->region, s), tripped, op->n,
                                   op->flags, out);
    }
    slot_unlock(&t->region, s);

    if (file && __builtin_expect(qk__region_lost(&t->region), 0))
        return qk__region_lost_error(&t->region); /* computed on zeros: no answer, no events */
    if (out != NULL && answered)
        memcpy(out->name, t->names[s], QK_NAME_MAX);
    /* Events and what a store's guard asks for, outside every lock: one test on the common path. */
    if (__builtin_expect(special ? qk__sink_pending(&sink) : sink.n != 0, 0)) {
        if (sink.n > 0)
            qk__deliver(t, ev, sink.n);
        if (special && (sink.store & QK__SINK_WAKE_STORE))
            qk__store_wake(t->store);
        if (special && (sink.store & QK__SINK_NEED_SYNC))
            return consume_after_sync(t, s, *op, out);
    }
    if (__builtin_expect(rc != QK_OK && rc != QK_ELIMIT, 0))
        return slot_op_failed(t, s, *op, rc);
    return rc; /* QK_ELIMIT is an answer, not a fault: out->tripped tells which window */
}

/* Every single-service operation is written once, with its checks (an always_inline body whose
 * `special` is a constant), and compiled twice, out of line: a path for a private tracker and
 * one for the others (a state file, read-only, a store). The public function tests t and its
 * mode word and jumps to one of the two, so neither pays for the other. Three things keep it so,
 * each measured (docs/design.md, docs/perf/hot-path.md): one function per operation kind (one
 * for every kind ran the slot's apply as a run-time switch: a state file's record cost 40 %
 * more); the operation's fields go as values (its address escaping made gcc reload its kind);
 * and the private path out of line too (inlined into the public function, its prologue ran
 * before a store tracker's jump: 20 of a store consume's 281 instructions; a private tracker
 * pays a test and a jump). qk_record and qk_try_consume, which a store's fast path serves, get a
 * third path for the common store tracker (QK__PATHS_STORE). t is checked by the public function:
 * nonnull. */
#define QK__PATHS(name, params, args)                                                              \
    static __attribute__((noinline, nonnull(1))) int name##_private params                         \
    {                                                                                              \
        return name##_path(QK__ARGS args, QK__PATH_PRIVATE);                                       \
    }                                                                                              \
    static __attribute__((noinline, nonnull(1))) int name##_special params                         \
    {                                                                                              \
        return name##_path(QK__ARGS args, QK__PATH_SPECIAL);                                       \
    }
/* And a third path, for the two operations the store's fast path serves, compiled for the common
 * store tracker (private, on the built-in clock): its mode a constant, it skips three tests of the
 * mode word (docs/perf/hot-path.md). */
#define QK__PATHS_STORE(name, params, args)                                                        \
    QK__PATHS(name, params, args)                                                                  \
    static __attribute__((noinline, nonnull(1))) int name##_store params                           \
    {                                                                                              \
        return name##_path(QK__ARGS args, QK__PATH_STORE);                                         \
    }
#define QK__ARGS(...) __VA_ARGS__
#define QK__DISPATCH(name, args)                                                                   \
    do {                                                                                           \
        if (t == NULL)                                                                             \
            return qk__fail(QK_EINVAL, "tracker is NULL");                                         \
        if (__builtin_expect(t->mode != 0, 0))                                                     \
            return name##_special args;                                                            \
        return name##_private args;                                                                \
    } while (0)
#define QK__DISPATCH_STORE(name, args)                                                             \
    do {                                                                                           \
        if (t == NULL)                                                                             \
            return qk__fail(QK_EINVAL, "tracker is NULL");                                         \
        const unsigned mode = t->mode;                                                             \
        if (__builtin_expect(mode != 0, 0))                                                        \
            return mode == QK__STORE_MODE ? name##_store args : name##_special args;               \
        return name##_private args;                                                                \
    } while (0)

static inline __attribute__((always_inline)) int
record_path(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out, qk__path special)
{
    if (n == 0)
        return qk__fail(QK_EINVAL, "n must be at least 1");
    const qk_op op = {QK_OP_RECORD, n, 0, 0};
    return slot_op(t, s, &op, out, special);
}
QK__PATHS_STORE(record, (qk_tracker * t, qk_service s, uint64_t n, qk_usage *out), (t, s, n, out))

int qk_record(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out)
{
#ifdef QK_MUTANT_RACY_RECORD
    if (t != NULL && n != 0)
        return qk__mutant_racy_record(t, s, n, out); /* tests/mutation only */
#endif
    QK__DISPATCH_STORE(record, (t, s, n, out));
}

static inline __attribute__((always_inline)) int try_consume_path(qk_tracker *t, qk_service s,
                                                                  uint64_t n, unsigned flags,
                                                                  qk_usage *out, qk__path special)
{
    if (n == 0)
        return qk__fail(QK_EINVAL, "n must be at least 1");
    if (flags & ~(unsigned)QK_PRIORITY)
        return qk__fail(QK_EINVAL, "unknown flag bits 0x%x", flags & ~(unsigned)QK_PRIORITY);
    const qk_op op = {QK_OP_CONSUME, n, flags, 0};
    return slot_op(t, s, &op, out, special);
}
QK__PATHS_STORE(try_consume,
                (qk_tracker * t, qk_service s, uint64_t n, unsigned flags, qk_usage *out),
                (t, s, n, flags, out))

int qk_try_consume(qk_tracker *t, qk_service s, uint64_t n, unsigned flags, qk_usage *out)
{
    QK__DISPATCH_STORE(try_consume, (t, s, n, flags, out));
}

int qk__consume(qk_tracker *t, qk_service s, uint64_t n, unsigned flags, qk_usage *out)
{
    /* The store's second try (engine.c): a store tracker, with the internal flags. */
    const qk_op op = {QK_OP_CONSUME, n, flags, 0};
    return slot_op(t, s, &op, out, QK__PATH_SPECIAL);
}

static inline __attribute__((always_inline)) int refund_path(qk_tracker *t, qk_service s,
                                                             uint64_t n, qk__path special)
{
    if (n == 0)
        return qk__fail(QK_EINVAL, "n must be at least 1");
    const qk_op op = {QK_OP_REFUND, n, 0, 0};
    return slot_op(t, s, &op, NULL, special);
}
QK__PATHS(refund, (qk_tracker * t, qk_service s, uint64_t n), (t, s, n))

int qk_refund(qk_tracker *t, qk_service s, uint64_t n)
{
    QK__DISPATCH(refund, (t, s, n));
}

static int peek_readonly(qk_tracker *t, qk_service s, qk_usage *out)
{
    int rc = qk__region_size_ok(&t->region); /* before the header's service count */
    if (rc != QK_OK)
        return rc;
    if ((rc = check_service(t, s)) != QK_OK)
        return rc;
    const int64_t now = qk__read_clock(t);
    if ((rc = slot_lock(&t->region, s)) != QK_OK)
        return rc;
    if ((rc = qk__region_verify_slot(&t->region, s)) != QK_OK) {
        slot_unlock(&t->region, s);
        return rc;
    }
    view_slot(&t->region, s, now, out);
    slot_unlock(&t->region, s);
    memcpy(out->name, t->names[s], QK_NAME_MAX);
    return QK_OK;
}

static inline __attribute__((always_inline)) int peek_path(qk_tracker *t, qk_service s,
                                                           qk_usage *out, qk__path special)
{
    const qk_op op = {QK_OP_PEEK, 0, 0, 0};
    return slot_op(t, s, &op, out, special);
}
QK__PATHS(peek, (qk_tracker * t, qk_service s, qk_usage *out), (t, s, out))

int qk_peek(qk_tracker *t, qk_service s, qk_usage *out)
{
    if (t == NULL || out == NULL)
        return qk__fail(QK_EINVAL, t ? "out is NULL" : "tracker is NULL");
    if (t->mode & QK__MODE_READONLY)
        return peek_readonly(t, s, out);
    QK__DISPATCH(peek, (t, s, out));
}

int qk_window_get(qk_tracker *t, qk_service s, unsigned window, qk_window_def *out)
{
    if (t == NULL || out == NULL)
        return qk__fail(QK_EINVAL, t ? "out is NULL" : "tracker is NULL");
    qk_region *r = &t->region;
    const int file = (t->mode & QK__MODE_SHARED) != 0;
    if (file && qk__region_lost(r))
        return qk__region_lost_error(r);
    /* A state file is read with the care of a peek: its size before the header's service
     * count, and the slot's every word under its lock. */
    int rc = file ? qk__region_size_ok(r) : QK_OK;
    if (rc == QK_OK)
        rc = check_service(t, s);
    if (rc != QK_OK)
        return file && qk__region_lost(r) ? qk__region_lost_error(r) : rc;
    /* Everything returned comes from one hold of the slot lock. It used to be read in two (a
     * peek, then the flags, every and zone), so a process that reconfigured the service in
     * between could give it one definition's period and limit with another's shape. The
     * window is read as stored, not rolled: a roll changes its bounds, never its shape. */
    if ((rc = slot_lock(r, s)) != QK_OK)
        return rc;
    if (file && (rc = qk__region_verify_slot(r, s)) != QK_OK) {
        slot_unlock(r, s);
        return rc;
    }
    const unsigned n = t->slots[s].n_windows;
    qk_window w;
    memset(&w, 0, sizeof w);
    if (window < n)
        w = t->slots[s].w[window];
    slot_unlock(r, s);
    if (file && qk__region_lost(r))
        return qk__region_lost_error(r); /* read on zeros: no answer */
    if (window >= n)
        return qk__fail(QK_EINVAL, "service '%s' has no window %u (it has %u)", t->names[s], window,
                        n);
    /* The slot says whether the window rolls, its zone and its every (neither a rolling window's
     * bounds nor a zoned one's are a multiple of its period); a fixed UTC window's bounds say its
     * offset: its start's distance from the aligned boundary. */
    const qk_period period = (qk_period)w.period;
    qk_window_def d = {.period = period, .limit = w.limit};
    const qk__zone *z = qk__zones_get(r->ext.zones, w.zone);
    if (w.flags & QK_WINDOW_ROLLING) {
        d.flags = QK_WINDOW_ROLLING;
        d.every = qk__window_every(&w);
    } else if (z != NULL) {
        d.every = qk__window_every(&w);
        d.tz = z->name; /* the zone table's: valid for the tracker's life */
    } else {
        d.every = qk__span_every(period, w.start_ms, w.end_ms);
        d.offset_ms = qk__span_offset(period, d.every, w.start_ms);
    }
    *out = d;
    return QK_OK;
}

static inline __attribute__((always_inline)) int
set_used_path(qk_tracker *t, qk_service s, unsigned window, uint64_t used, qk__path special)
{
    const qk_op op = {QK_OP_SET_USED, used, 0, window};
    return slot_op(t, s, &op, NULL, special);
}
QK__PATHS(set_used, (qk_tracker * t, qk_service s, unsigned window, uint64_t used),
          (t, s, window, used))

int qk_set_used(qk_tracker *t, qk_service s, unsigned window, uint64_t used)
{
    QK__DISPATCH(set_used, (t, s, window, used));
}

static inline __attribute__((always_inline)) int reset_path(qk_tracker *t, qk_service s,
                                                            qk__path special)
{
    const qk_op op = {QK_OP_RESET, 0, 0, 0};
    return slot_op(t, s, &op, NULL, special);
}
QK__PATHS(reset, (qk_tracker * t, qk_service s), (t, s))

int qk_reset(qk_tracker *t, qk_service s)
{
    QK__DISPATCH(reset, (t, s));
}
#undef QK__PATHS
#undef QK__ARGS
#undef QK__DISPATCH

/* Applies op to every service at one instant: snapshot lock, then every slot lock in ascending
 * order, so the whole pass is one consistent cut. out (cap entries) receives the usages. In a
 * shared file the pass is one journal epoch: a crash part-way rolls every slot back. */
static int run_all_op(qk_tracker *t, const qk_op *op, qk_usage *out, size_t cap, size_t *count)
{
    const int64_t now = qk__tracker_now(t);
    qk_event *ev = NULL;

    int rc = qk__region_size_ok(&t->region); /* before any lock in a file shrunk under us */
    if (rc != QK_OK)
        return rc;
    rc = snapshot_lock(&t->region);
    if (rc != QK_OK)
        return rc;
    const uint32_t n = qk__published(t); /* stable: service_add needs the snapshot lock */
    if (out != NULL && cap < n) {
        snapshot_unlock(&t->region);
        *count = n;
        return qk__fail(QK_ERANGE, "snapshot needs room for %u services, got %zu", n, cap);
    }
    /* Allocated before any slot lock: slot locks are leaves. A roll lowers a level at most once
     * per window. */
    if (t->on_event != NULL && n > 0) {
        ev = malloc((size_t)n * QK_MAX_WINDOWS * sizeof *ev);
        if (ev == NULL) {
            snapshot_unlock(&t->region);
            return qk__fail(QK_ENOMEM, "no memory for the events of %u services", n);
        }
    }
    rc = lock_slots(&t->region, n);
    if (rc != QK_OK) {
        snapshot_unlock(&t->region);
        free(ev);
        return rc;
    }
    /* Every slot's words, before any changes (nothing is rolled from a damaged slot). */
    for (uint32_t s = 0; t->region.fd >= 0 && s < n; s++)
        if ((rc = qk__region_verify_slot(&t->region, s)) != QK_OK) {
            unlock_all(&t->region, n); /* and the snapshot lock */
            free(ev);
            return rc;
        }
    qk_event_sink sink = {ev, 0, 0};
    const int readonly = (t->mode & QK__MODE_READONLY) != 0; /* only a snapshot gets here */
    const int journal = (t->mode & QK__MODE_SHARED) && !readonly;
    const uint64_t epoch = journal ? atomic_load(&t->region.hdr->all_op_started) + 1 : 0;
    if (journal)
        atomic_store(&t->region.hdr->all_op_started, epoch);
    for (uint32_t s = 0; s < n; s++) {
        int unused = -1;
        if (readonly) {
            view_slot(&t->region, s, now, &out[s]);
            continue;
        }
        if (t->mode != 0)
            apply_locked(t, s, op, now, &sink, &unused, epoch, QK__PATH_SPECIAL);
        else
            apply_locked(t, s, op, now, &sink, &unused, epoch, QK__PATH_PRIVATE);
        if (out != NULL)
            qk__slot_usage(&t->slots[s], s, -1, &out[s]);
    }
    if (journal) {
        atomic_store(&t->region.hdr->all_op_committed, epoch);
        for (uint32_t s = 0; s < n; s++)
            qk__slot_end(&t->slots[s]);
    }
    unlock_all(&t->region, n);
    if (qk__region_lost(&t->region)) {
        free(ev);
        return qk__region_lost_error(&t->region);
    }

    if (out != NULL)
        for (uint32_t s = 0; s < n; s++)
            memcpy(out[s].name, t->names[s], QK_NAME_MAX);
    if (count != NULL)
        *count = n;
    if (sink.n > 0)
        qk__deliver(t, ev, sink.n);
    if (sink.store & QK__SINK_WAKE_STORE)
        qk__store_wake(t->store);
    free(ev);
    return QK_OK;
}

int qk_reset_all(qk_tracker *t)
{
    if (t == NULL)
        return qk__fail(QK_EINVAL, "tracker is NULL");
    if (t->mode & QK__MODE_READONLY)
        return refuse_readonly("reset every service");
    const qk_op op = {QK_OP_RESET, 0, 0, 0};
    return run_all_op(t, &op, NULL, 0, NULL);
}

int qk_snapshot(qk_tracker *t, qk_usage *out, size_t cap, size_t *count)
{
    if (t == NULL || count == NULL || (out == NULL && cap > 0))
        return qk__fail(QK_EINVAL, t == NULL       ? "tracker is NULL"
                                   : count == NULL ? "count is NULL"
                                                   : "out is NULL but cap is not 0");
    const qk_op op = {QK_OP_PEEK, 0, 0, 0};
    /* out may be NULL with cap 0: a query for the number needed, answered with QK_ERANGE when
     * there are services. */
    qk_usage none;
    return run_all_op(t, &op, out ? out : &none, cap, count);
}

int qk__find_name(const qk_tracker *t, const char *name, uint32_t n)
{
    return qk__region_find_name(&t->region, name, n);
}

int qk__shapes_supported(const qk_tracker *t, const qk_service_def *def)
{
    for (unsigned i = 0; i < QK_MAX_WINDOWS && def->windows[i].limit != 0; i++) {
        if (def->windows[i].tz != NULL) {
            if (t->region.ext.zones == NULL)
                return qk__fail(QK_EINVAL,
                                "service '%s': window %u: the state file is still at layout 2: "
                                "windows in a time zone need layout 3 (docs/windows.md)",
                                def->name, i);
        }
        if (!(def->windows[i].flags & QK_WINDOW_ROLLING))
            continue;
        if (t->region.ext.rings == NULL)
            return qk__fail(QK_EINVAL,
                            "service '%s': window %u: the state file is still at layout 2 (a "
                            "process of an older library has it open, or it could not grow): "
                            "rolling windows need layout 3, which a file gets when it is opened "
                            "with no other process using it",
                            def->name, i);
    }
    return QK_OK;
}

int qk__zones_load(qk__zones_loaded *out, const qk__checked_def *defs, size_t n,
                   const qk_zone_table *have)
{
    out->zone = NULL;
    out->n = 0;
    for (size_t k = 0; k < n; k++)
        for (unsigned j = 0; j < defs[k].n_windows; j++) {
            const char *name = defs[k].def.windows[j].tz;
            if (name == NULL || (have != NULL && qk__zones_find(have, name) >= 0))
                continue;
            int dup = 0;
            for (uint32_t i = 0; i < out->n; i++)
                dup |= strncmp(out->zone[i].name, name, QK__TZ_NAME_MAX) == 0;
            if (dup)
                continue;
            int rc = QK_OK;
            if (out->n == QK_ZONES_MAX)
                rc = qk__fail(QK_EFULL, "more than %d time zones in one tracker", QK_ZONES_MAX);
            else if (out->zone == NULL &&
                     (out->zone = malloc(QK_ZONES_MAX * sizeof *out->zone)) == NULL)
                rc = qk__fail(QK_ENOMEM, "no memory for the time zones");
            else if ((rc = qk__tz_load(&out->zone[out->n], name)) == QK_OK)
                out->n++;
            else { /* the reader's message, with the window it was read for */
                char why[384];
                const char *msg = qk_errmsg(), *code = qk_strerror(rc);
                const size_t len = strlen(code);
                if (strncmp(msg, code, len) == 0 && strncmp(msg + len, ": ", 2) == 0)
                    msg += len + 2; /* the code's name is said once, by the new message */
                snprintf(why, sizeof why, "%s", msg);
                rc = qk__fail(rc, "service '%s': window %u: %s", defs[k].def.name, j, why);
            }
            if (rc != QK_OK) {
                qk__zones_loaded_free(out);
                return rc;
            }
        }
    return QK_OK;
}

void qk__zones_loaded_free(qk__zones_loaded *l)
{
    free(l->zone);
    l->zone = NULL;
    l->n = 0;
}

int qk__zones_publish(qk_tracker *t, qk__checked_def *defs, size_t n, const qk__zones_loaded *l,
                      int snapshot_held)
{
    qk_zone_table *zt = t->region.ext.zones;
    int rc = QK_OK;
    if (zt == NULL)
        return QK_OK; /* no zoned window passed qk__shapes_supported */
    /* Appended under the snapshot lock, each published with one release store: a process killed
     * mid-copy leaves an entry nobody sees. */
    if (l->n > 0 && (snapshot_held || (rc = snapshot_lock(&t->region)) == QK_OK)) {
        /* Room for every missing zone first: a refusal appends none. */
        uint32_t missing = 0;
        for (uint32_t i = 0; i < l->n; i++)
            missing += qk__zones_find(zt, l->zone[i].name) < 0;
        if (missing > QK_ZONES_MAX - qk__zones_published(zt))
            rc = qk__fail(QK_EFULL,
                          "the state file's zone table is full (%d zones): %u are in it and %u "
                          "more are needed",
                          QK_ZONES_MAX, qk__zones_published(zt), missing);
        for (uint32_t i = 0; rc == QK_OK && i < l->n; i++) {
            if (qk__zones_find(zt, l->zone[i].name) >= 0)
                continue; /* in the file already, or another process added it meanwhile */
            const uint32_t at = qk__zones_published(zt);
            memcpy(&zt->zone[at], &l->zone[i], sizeof zt->zone[at]);
            atomic_store_explicit(&zt->n_zones, at + 1, memory_order_release);
        }
        if (!snapshot_held)
            snapshot_unlock(&t->region);
    }
    /* Each window names its entry, whose name outlives the caller's string. */
    for (size_t k = 0; rc == QK_OK && k < n; k++)
        for (unsigned j = 0; j < defs[k].n_windows; j++) {
            qk_window_def *w = &defs[k].def.windows[j];
            defs[k].zone[j] = 0;
            if (w->tz == NULL)
                continue;
            const int at = qk__zones_find(zt, w->tz);
            if (at < 0)
                return qk__fail(QK_EINVAL, "time zone '%s' was not loaded", w->tz);
            defs[k].zone[j] = (uint8_t)(at + 1);
            w->tz = zt->zone[at].name;
        }
    return rc;
}

void qk__add_locked(qk_tracker *t, const qk__checked_def *d, int64_t now)
{
    const uint32_t n = qk__published(t);
    qk_slot *sl = &t->slots[n];
    qk_event_sink none = {NULL, 0, 0}; /* a new window starts at OK: no level changes */
    sl->n_windows = 0;
    sl->journal = 0;
    sl->seq = 0;
    /* A slot with no window carries no buckets: never refused. */
    (void)qk__slot_configure(sl, &t->region.ext, n, &d->def, d->n_windows, d->zone, now, &none);
    sl->seal = qk__slot_seal_of(sl);
    memset(t->names[n], 0, QK_NAME_MAX);
    strcpy(t->names[n], d->def.name);
    /* Slot n is invisible to other threads, and processes, until this store. */
    atomic_store_explicit(&t->region.hdr->n_services, n + 1, memory_order_release);
}

int qk_service_add(qk_tracker *t, const qk_service_def *def, qk_service *out)
{
    if (t == NULL || def == NULL)
        return qk__fail(QK_EINVAL, t ? "service definition is NULL" : "tracker is NULL");
    if (t->mode & QK__MODE_READONLY)
        return refuse_readonly("add a service");
    qk__checked_def d;
    const int rc_def = qk__service_def_read(&d, def, 0, t->api_version);
    if (rc_def != QK_OK)
        return rc_def;
    def = &d.def;
    int rc = qk__shapes_supported(t, def);
    /* Zones are read with no lock held (file I/O), and published only in the hold of the
     * snapshot lock that adds the service, once its checks pass: a refused add leaves the
     * file's zone table (16 entries) as it was. */
    qk__zones_loaded zones = {NULL, 0};
    if (rc == QK_OK)
        rc = qk__zones_load(&zones, &d, 1, t->region.ext.zones);
    const int64_t now = rc == QK_OK ? qk__tracker_now(t) : 0;
    if (rc == QK_OK)
        rc = qk__region_size_ok(&t->region); /* an add is rare: it can afford the fstat */
    if (rc != QK_OK) {
        qk__zones_loaded_free(&zones);
        return rc;
    }
    rc = snapshot_lock(&t->region);
    if (rc != QK_OK) {
        qk__zones_loaded_free(&zones);
        return rc;
    }
    const uint32_t n = qk__published(t);
    if (qk__find_name(t, def->name, n) >= 0)
        rc = qk__fail(QK_EEXIST, "service '%s' is already registered", def->name);
    else if (n == t->capacity)
        rc = qk__fail(QK_EFULL, "cannot add '%s': all %u slots are in use", def->name, n);
    else if ((rc = qk__zones_publish(t, &d, 1, &zones, 1)) == QK_OK)
        qk__add_locked(t, &d, now);
    snapshot_unlock(&t->region);
    qk__zones_loaded_free(&zones);
    if (qk__region_lost(&t->region))
        return qk__region_lost_error(&t->region);
    if (rc == QK_OK && out != NULL)
        *out = n;
    return rc;
}

int qk_service_find(const qk_tracker *t, const char *name, qk_service *out)
{
    if (t == NULL || name == NULL || out == NULL)
        return qk__fail(QK_EINVAL, "%s is NULL", t == NULL ? "tracker" : name ? "out" : "name");
    /* The names live in the file. The region's shrunk flag is the one word a const tracker's
     * check may set (a tracker is never defined const: qk_tracker_new allocates it). */
    qk_region *r = (qk_region *)&t->region;
    const int rc = qk__region_size_ok(r);
    if (rc != QK_OK)
        return rc;
    const int i = qk__find_name(t, name, qk__published(t));
    if (qk__region_lost(r))
        return qk__region_lost_error(r);
    if (i < 0)
        return qk__fail(QK_ENOENT, "no service named '%.*s'", QK_NAME_MAX, name);
    *out = (qk_service)i;
    return QK_OK;
}

size_t qk_service_count(const qk_tracker *t)
{
    /* A state file shrunk under us has no services left to read (and reading would fault):
     * 0, and the next call that can say so fails with QK_ECORRUPT. */
    if (t == NULL || qk__region_size_ok((qk_region *)&t->region) != QK_OK)
        return 0;
    const uint32_t n = qk__published(t);
    return qk__region_lost(&t->region) ? 0 : n;
}

/* ---- the store's public calls: the tracker's checks, the engine's work ---- */

int qk_store_sync(qk_tracker *t)
{
    if (t == NULL || t->store == NULL)
        return qk__fail(QK_EINVAL, t ? "the tracker has no store" : "tracker is NULL");
    /* A state file truncated under us: its leases and counts are gone, and what a sync read
     * of them was zeros (fault.h). */
    int rc = qk__region_lost(&t->region) ? QK_ECORRUPT : qk__store_sync(t->store);
    return qk__region_lost(&t->region) ? qk__region_lost_error(&t->region) : rc;
}

int qk_store_status(qk_tracker *t, qk_store_info *out)
{
    if (t == NULL || out == NULL || t->store == NULL)
        return qk__fail(QK_EINVAL, t == NULL     ? "tracker is NULL"
                                   : out == NULL ? "out is NULL"
                                                 : "the tracker has no store");
    const int rc = qk__store_status(t->store, out);
    return qk__region_lost(&t->region) ? qk__region_lost_error(&t->region) : rc;
}
