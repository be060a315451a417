/* A service's slot: its mutex and the state of its windows, in its own 128-byte-aligned block
 * so that threads working on different services never share a cache line. Pointer-free: a
 * slot can live in memory shared between processes.
 *
 * The slot lock is a leaf. Every function here runs with it held, and none of them calls back,
 * allocates, does I/O or touches another slot: events are only written into a caller-provided
 * buffer and delivered once every lock is released. */
#ifndef QK_SLOT_H
#define QK_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "ring.h"
#include "store/lease.h"
#include "window.h"
#include "zone_table.h"

/* A single-slot operation changes each window's level at most twice (rollover, then the
 * operation itself). */
#define QK_EVENTS_PER_SLOT_OP (2 * QK_MAX_WINDOWS)

typedef struct {
    _Alignas(128) pthread_mutex_t lock;
    uint32_t n_windows;
    uint32_t journal; /* odd while an update is being written (shared regions only) */
    uint64_t seq;     /* level changes so far; numbers the events */
    uint64_t reserve; /* calls only QK_PRIORITY consumers may take */
    /* Shared regions: qk__slot_seal_of the words above and the windows, stored by every
     * qk__slot_end, so a changed word is refused rather than counted (docs/state-file.md). */
    uint64_t seal;
    qk_window w[QK_MAX_WINDOWS];
    /* Undo journal, in the slot's colder lines: the state before the update in progress, so
     * that a process killed mid-update leaves nothing torn. The next locker gets EOWNERDEAD and
     * restores it (qk__slot_recover). */
    uint64_t undo_epoch; /* all-services operation it belongs to; 0 for a single-slot one */
    uint64_t undo_seq, undo_reserve;
    uint32_t undo_n_windows;
    qk_window undo[QK_MAX_WINDOWS];
} qk_slot;

/* What a slot's cold paths reach besides the slot, in its region: the ring sets (slot s's at
 * rings[s]) and the zone table, both NULL in a layout-2 file, whose slots have neither rolling
 * nor zoned windows. The hot path passes its address, and only cold code reads it. */
typedef struct {
    qk_ring_set *rings;
    qk_zone_table *zones;
} qk_slot_ext;

/* Where level changes go while the slot lock is held. ev == NULL counts them (seq) but keeps
 * none: nobody listens. store: what a store tracker's guard asks for once every lock is
 * released (QK__SINK_*: flags, not events or error codes, so nobody else ever sees them). */
typedef struct {
    qk_event *ev;
    uint32_t n; /* beside store: one word, zeroed and tested at once */
    uint32_t store;
} qk_event_sink;

/* Whether the sink holds events or a store's request: n and store are one 8-byte word, read at
 * once (the hot path's last test). */
static inline int qk__sink_pending(const qk_event_sink *sink)
{
    _Static_assert(offsetof(qk_event_sink, store) == offsetof(qk_event_sink, n) + 4,
                   "n and store must be adjacent");
    uint64_t both;
    memcpy(&both, (const char *)sink + offsetof(qk_event_sink, n), sizeof both);
    return both != 0;
}

enum {
    QK__SINK_WAKE_STORE = 1u, /* a lease ran low: wake the sync thread */
    QK__SINK_NEED_SYNC = 2u,  /* a consume refused for want of lease: sync, then try again */
};

typedef enum {
    QK_OP_PEEK,
    QK_OP_RECORD,
    QK_OP_CONSUME,
    QK_OP_REFUND,
    QK_OP_SET_USED,
    QK_OP_RESET
} qk_op_kind;

typedef struct {
    qk_op_kind kind;
    uint64_t n;      /* calls, or the new count for QK_OP_SET_USED */
    unsigned flags;  /* QK_OP_CONSUME */
    unsigned window; /* QK_OP_SET_USED */
} qk_op;

/* Out of line, off the hot path: records a level change of window i (its count is already
 * set) as the slot's next event. */
void qk__slot_level_changed(qk_slot *sl, qk_service s, unsigned i, qk_level to,
                            qk_event_sink *sink);
/* Out of line (once per window period, or per bucket of a rolling window): moves every window
 * whose period ended to the current one, at count 0, and slides every rolling window whose
 * current bucket ended, and every zoned window (its zone in ext) whose local period ended. Returns
 * 0, or 1 when the ring fails its seal or an ended window's zone is missing or damaged; both are
 * checked before anything changes, so then nothing changed (the apply answers QK_ECORRUPT). */
int qk__slot_roll_ended(qk_slot *sl, const qk_slot_ext *ext, qk_service s, int64_t now_ms,
                        qk_event_sink *sink);

static inline void qk__slot_set_used(qk_slot *sl, qk_service s, unsigned i, uint64_t used,
                                     qk_event_sink *sink)
{
    qk_window *w = &sl->w[i];
    w->used = used;
    const qk_level to = qk__window_level(w, used);
    if (to != (qk_level)w->level)
        qk__slot_level_changed(sl, s, i, to, sink);
}

/* Out of line: lowers rolling window i's count to `to`, its buckets (ext's ring set s) with it,
 * newest first. */
void qk__slot_lower_rolling(qk_slot *sl, const qk_slot_ext *ext, qk_service s, unsigned i,
                            uint64_t to, qk_event_sink *sink);

/* Sets window i's count to `to` where it may fall (a refund, set_used, reset): a rolling
 * window's buckets fall with it; a rise goes into its current bucket, which is implicit. */
static inline void qk__slot_lower(qk_slot *sl, const qk_slot_ext *ext, qk_service s, unsigned i,
                                  uint64_t to, qk_event_sink *sink)
{
    if (__builtin_expect((sl->w[i].flags & QK_WINDOW_ROLLING) && to < sl->w[i].used, 0))
        qk__slot_lower_rolling(sl, ext, s, i, to, sink);
    else
        qk__slot_set_used(sl, s, i, to, sink);
}

/* Whether window w of sl refuses n more calls: only QK_PRIORITY consumers may use the reserve. */
static inline int qk__window_refuses(const qk_slot *sl, const qk_window *w, uint64_t n,
                                     unsigned flags)
{
    const uint64_t cap = (flags & QK_PRIORITY) ? w->limit : w->limit - sl->reserve;
    return w->used > cap || n > cap - w->used;
}

static inline __attribute__((always_inline)) int
qk__slot_consume_refused_n(const qk_slot *sl, uint64_t n, unsigned flags, int *tripped,
                           const unsigned nw)
{
    for (unsigned i = 0; i < nw; i++) {
        if (qk__window_refuses(sl, &sl->w[i], n, flags)) {
            *tripped = (int)i;
            return 1;
        }
    }
    return 0;
}

/* A store tracker's guard: the store (its health and outage policies) and this service's leases.
 * Every other tracker passes NULL for both, as constants, and its apply compiles to what it was
 * before leases existed. */
struct qk__store;

/* What the guard cannot settle inline, out of line in the store wing (store/guard.c), after the
 * windows rolled and, for a consume, after the local limits passed: the leases follow the
 * windows (a roll), a consume short of its lease asks the outage policy or for a sync, a refund
 * gives back this host's own use, and the fast path's gates are set again. QK_OK: go on and
 * count; QK_ELIMIT or QK_EUNAVAIL (window *tripped; nothing changed but the leases' alignment),
 * QK_ELIMIT with QK__SINK_NEED_SYNC in the sink when a sync may bring the lease it lacks. */
int qk__guard_decide(struct qk__store *st, qk_slot *sl, qk__store_slot *ss, qk_service s,
                     const qk_op *op, int64_t now_ms, int *tripped, qk_event_sink *sink);

/* The decision, given a copy of op: were op's own address to escape into the call, gcc would
 * reload its kind and fields from memory after it instead of treating them as constants. */
static inline __attribute__((always_inline)) int qk__slot_decide(struct qk__store *st, qk_slot *sl,
                                                                 qk__store_slot *ss, qk_service s,
                                                                 const qk_op *op, int64_t now_ms,
                                                                 int *tripped, qk_event_sink *sink)
{
    const qk_op copy = *op;
    return qk__guard_decide(st, sl, ss, s, &copy, now_ms, tripped, sink);
}

/* Counts n calls in every window, and with a guard in each lease: written once, for every
 * consume and record of every tracker. A fast pass (the lease was under its gate) cannot make it
 * low, so only a record's crossing of the gate, or a slow pass's exact test, asks for a wake. */
static inline __attribute__((always_inline)) void
qk__slot_count_n(qk_slot *sl, qk__store_slot *ss, qk_service s, qk_op_kind kind, uint64_t n,
                 int64_t now_ms, int slow, qk_event_sink *sink, const unsigned nw)
{
    int wake = 0;
    for (unsigned i = 0; i < nw; i++) {
        if (ss != NULL) {
            qk__lease *l = &ss->cur[i];
            if (slow)
                wake |= qk__lease_crosses_low(l, n);
            else if (kind == QK_OP_RECORD)
                wake |= l->used < l->gate && l->used + n >= l->gate;
            l->used += n;
        }
        qk__slot_set_used(sl, s, i, sl->w[i].used + n, sink);
    }
    if (ss != NULL) {
        if (ss->last_use_ms != now_ms)
            ss->last_use_ms = now_ms;
        /* A use takes back a lease given back (its gates open again at the next decision); a
         * fast consume passed a gate, and a given-back lease's gates are closed. */
        if ((kind == QK_OP_RECORD || slow) && ss->released)
            ss->released = 0;
        if (wake)
            sink->store |= QK__SINK_WAKE_STORE;
    }
}

/* Whether a guarded consume or record of n can be counted at once: every window current, every
 * lease on its window and with room in its count; for a consume, under the window's limit
 * (the reserve as for any consume), inside the lease's term and under its gate; for a record,
 * room in every window's count. First failure out: the general pass then decides, and says why. */
static inline __attribute__((always_inline)) int
qk__slot_guard_fast(const qk_slot *sl, const qk__store_slot *ss, qk_op_kind kind, uint64_t n,
                    unsigned flags, int64_t now_ms, const unsigned nw)
{
    if (kind == QK_OP_CONSUME && now_ms >= ss->term_ms) /* the lease's term ran out */
        return 0;
    for (unsigned i = 0; i < nw; i++) {
        const qk_window *w = &sl->w[i];
        const qk__lease *l = &ss->cur[i];
        uint64_t after;
        if (qk__window_ended(w, now_ms) || l->start_ms != w->start_ms || l->end_ms != w->end_ms ||
            __builtin_add_overflow(l->used, n, &after))
            return 0;
        if (kind == QK_OP_CONSUME && (qk__window_refuses(sl, w, n, flags) || after >= l->gate))
            return 0;
        if (kind == QK_OP_RECORD && n > UINT64_MAX - w->used)
            return 0;
    }
    return 1;
}

/* Rolls every window whose period ended, then applies op: the one apply of every tracker. With
 * a guard (st, ss), a consume or record whose every lease is on its window, has room in its
 * count and, for a consume, stays under its gate, is counted in the same pass; anything else
 * goes to qk__guard_decide first. Returns QK_OK, QK_ERANGE (a record would overflow; nothing
 * counted), QK_ELIMIT (a consume was refused by window *tripped; nothing counted), QK_EINVAL
 * (set_used of a window the service does not have), and with a guard QK_EUNAVAIL, or QK_ELIMIT
 * with QK__SINK_NEED_SYNC.
 * Inline so that each operation, whose kind is a constant, compiles to its own short path. */
static inline __attribute__((always_inline)) int
qk__slot_apply_n(qk_slot *sl, const qk_slot_ext *ext, qk_service s, const qk_op *op, int64_t now_ms,
                 qk_event_sink *sink, int *tripped, const unsigned nw, struct qk__store *st,
                 qk__store_slot *ss)
{
    /* A store tracker's common consume or record, with its lease in hand: one pass of checks,
     * one of counting. */
    if (ss != NULL && (op->kind == QK_OP_CONSUME || op->kind == QK_OP_RECORD) &&
        qk__slot_guard_fast(sl, ss, op->kind, op->n, op->flags, now_ms, nw)) {
        qk__slot_count_n(sl, ss, s, op->kind, op->n, now_ms, 0, sink, nw);
        return QK_OK;
    }
    /* Windows that ended are rolled out of line, so the common pass is a loop without a call
     * (a call in it cost spills of its registers on every operation). */
    int ended = 0;
    for (unsigned i = 0; i < nw; i++)
        ended |= qk__window_ended(&sl->w[i], now_ms);
    if (__builtin_expect(ended, 0) && qk__slot_roll_ended(sl, ext, s, now_ms, sink))
        return QK_ECORRUPT;
    /* A record checks every count before any changes; a guard, every lease. */
    int overflow = 0;
    if (op->kind == QK_OP_RECORD)
        for (unsigned i = 0; i < nw; i++)
            overflow |= op->n > UINT64_MAX - sl->w[i].used;
    /* With a guard, a consume or record that gets here goes to the decision. */
    const int slow = ss != NULL && (op->kind == QK_OP_CONSUME || op->kind == QK_OP_RECORD);
    int rc;
    switch (op->kind) {
    case QK_OP_PEEK:
        if (ss != NULL)
            qk__slot_decide(st, sl, ss, s, op, now_ms, tripped, sink);
        break;
    case QK_OP_RECORD:
        if (overflow)
            return QK_ERANGE;
        if (__builtin_expect(slow, 0)) {
            qk__slot_decide(st, sl, ss, s, op, now_ms, tripped, sink); /* a record is a fact */
            qk__slot_count_n(sl, ss, s, QK_OP_RECORD, op->n, now_ms, 1, sink, nw);
        } else {
            qk__slot_count_n(sl, ss, s, QK_OP_RECORD, op->n, now_ms, 0, sink, nw);
        }
        break;
    case QK_OP_CONSUME:
        if (qk__slot_consume_refused_n(sl, op->n, op->flags, tripped, nw))
            return QK_ELIMIT;
        if (__builtin_expect(slow, 0)) {
            if ((rc = qk__slot_decide(st, sl, ss, s, op, now_ms, tripped, sink)) != QK_OK)
                return rc;
            qk__slot_count_n(sl, ss, s, QK_OP_CONSUME, op->n, now_ms, 1, sink, nw);
        } else {
            qk__slot_count_n(sl, ss, s, QK_OP_CONSUME, op->n, now_ms, 0, sink, nw);
        }
        break;
    case QK_OP_REFUND:
        if (ss != NULL)
            qk__slot_decide(st, sl, ss, s, op, now_ms, tripped, sink);
        for (unsigned i = 0; i < nw; i++) {
            const uint64_t used = sl->w[i].used;
            qk__slot_lower(sl, ext, s, i, used > op->n ? used - op->n : 0, sink);
        }
        break;
    case QK_OP_SET_USED:
        /* Checked here, under the lock: another process may redefine the service. */
        if (op->window >= nw)
            return QK_EINVAL;
        if (ss != NULL)
            qk__slot_decide(st, sl, ss, s, op, now_ms, tripped, sink);
        qk__slot_lower(sl, ext, s, op->window, op->n, sink);
        break;
    case QK_OP_RESET:
        if (ss != NULL)
            qk__slot_decide(st, sl, ss, s, op, now_ms, tripped, sink);
        for (unsigned i = 0; i < nw; i++)
            qk__slot_lower(sl, ext, s, i, 0, sink);
        break;
    }
    return QK_OK;
}

/* One window (the common definition) compiles to straight code, without the loops' counters;
 * more take the loops. Without a guard. */
static inline __attribute__((always_inline)) int qk__slot_apply(qk_slot *sl, const qk_slot_ext *ext,
                                                                qk_service s, const qk_op *op,
                                                                int64_t now_ms, qk_event_sink *sink,
                                                                int *tripped)
{
    if (sl->n_windows == 1)
        return qk__slot_apply_n(sl, ext, s, op, now_ms, sink, tripped, 1, NULL, NULL);
    return qk__slot_apply_n(sl, ext, s, op, now_ms, sink, tripped, sl->n_windows, NULL, NULL);
}

/* The same, with a store tracker's guard. */
static inline __attribute__((always_inline)) int
qk__slot_apply_guarded(qk_slot *sl, const qk_slot_ext *ext, qk_service s, const qk_op *op,
                       int64_t now_ms, qk_event_sink *sink, int *tripped, struct qk__store *st,
                       qk__store_slot *ss)
{
    if (ss == NULL)
        __builtin_unreachable(); /* a store's leases: so the guard's tests of it compile away */
    if (sl->n_windows == 1)
        return qk__slot_apply_n(sl, ext, s, op, now_ms, sink, tripped, 1, st, ss);
    return qk__slot_apply_n(sl, ext, s, op, now_ms, sink, tripped, sl->n_windows, st, ss);
}

/* The seal: a sum of the slot's live words, each times its own odd multiplier, from a non-zero
 * basis. A change confined to one word moves it by delta * odd, never 0 modulo 2^64, so every
 * such change (every flipped bit) is caught; a zeroed slot (a truncated page) has seal 0 and sum
 * the basis. Independent multiplies: a few nanoseconds for one window. */
#define QK__SEAL_BASIS   UINT64_C(0x51a1ed0c0ffee001)
#define QK__SEAL_MUL(j)  (UINT64_C(0x9e3779b97f4a7c15) + 2 * (uint64_t)(j))
#define QK__SEAL_WORDS_W 7

/* period | level << 8 | flags << 16 | zone << 24 | every_m1 << 32: on a little-endian machine
 * the window's last 8 bytes as one load. A layout 2 file has zeros beyond level (its padding),
 * so its seals still hold. */
static inline uint64_t qk__window_shape_word(const qk_window *w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    _Static_assert(offsetof(qk_window, every_m1) == offsetof(qk_window, period) + 4 &&
                       offsetof(qk_window, level) == offsetof(qk_window, period) + 1 &&
                       offsetof(qk_window, flags) == offsetof(qk_window, period) + 2 &&
                       offsetof(qk_window, zone) == offsetof(qk_window, period) + 3,
                   "the shape word's bytes are adjacent");
    uint64_t word;
    memcpy(&word, &w->period, sizeof word);
    return word;
#else
    return (uint64_t)w->period | (uint64_t)w->level << 8 | (uint64_t)w->flags << 16 |
           (uint64_t)w->zone << 24 | (uint64_t)w->every_m1 << 32;
#endif
}

static inline uint64_t qk__slot_seal_of(const qk_slot *sl)
{
    const unsigned nw = sl->n_windows <= QK_MAX_WINDOWS ? sl->n_windows : QK_MAX_WINDOWS;
    uint64_t h = QK__SEAL_BASIS + sl->n_windows * QK__SEAL_MUL(0) + sl->seq * QK__SEAL_MUL(1) +
                 sl->reserve * QK__SEAL_MUL(2);
    for (unsigned i = 0; i < nw; i++) {
        const qk_window *w = &sl->w[i];
        const unsigned j = 3 + QK__SEAL_WORDS_W * i;
        h += w->used * QK__SEAL_MUL(j) + (uint64_t)w->start_ms * QK__SEAL_MUL(j + 1) +
             (uint64_t)w->end_ms * QK__SEAL_MUL(j + 2) + w->limit * QK__SEAL_MUL(j + 3) +
             w->warn_at * QK__SEAL_MUL(j + 4) + w->critical_at * QK__SEAL_MUL(j + 5) +
             qk__window_shape_word(w) * QK__SEAL_MUL(j + 6);
    }
    return h;
}

/* Whether a slot whose journal is closed still holds what its last update sealed. */
static inline int qk__slot_sealed(const qk_slot *sl)
{
    return sl->seal == qk__slot_seal_of(sl);
}

/* Journals the slot's state (its first n_copy windows) before an update. */
static inline void qk__slot_begin(qk_slot *sl, uint64_t epoch, unsigned n_copy)
{
    sl->undo_epoch = epoch;
    sl->undo_seq = sl->seq;
    sl->undo_reserve = sl->reserve;
    sl->undo_n_windows = sl->n_windows;
    for (unsigned i = 0; i < n_copy; i++)
        sl->undo[i] = sl->w[i];
    /* Compiler barriers: a SIGKILL can land between any two stores, so the undo copy must be
     * written before the odd mark, and the update before the even one. */
    atomic_signal_fence(memory_order_seq_cst);
    sl->journal++;
    atomic_signal_fence(memory_order_seq_cst);
}

/* Seals the update, then closes the journal: a process killed in between leaves it open, and
 * recovery rolls it back and seals again. */
static inline void qk__slot_end(qk_slot *sl)
{
    sl->seal = qk__slot_seal_of(sl);
    atomic_signal_fence(memory_order_seq_cst);
    sl->journal++;
    atomic_signal_fence(memory_order_seq_cst);
}

/* Repairs a slot whose last owner died holding its lock: an update left half-written is rolled
 * back, its ring (rs, NULL where the region has none) with it, unless it belongs to an
 * all-services operation that had committed (epoch <= committed), which is kept. */
void qk__slot_recover(qk_slot *sl, qk_ring_set *rs, uint64_t committed_epoch);

/* Gives the slot def's windows, thresholds and reserve (n_windows from qk__service_def_check).
 * A window whose shape the slot already had keeps its count and bounds, and a rolling one its
 * buckets. zone_nos: each window's zone number in ext's zone table (NULL: every window UTC).
 * ext may be NULL only when def has no rolling and no zoned window. QK_OK, or QK_ECORRUPT
 * (nothing changed) when the slot has a rolling window and its ring fails its seal: its buckets
 * would be carried and sealed again as good. A slot with no window (a new one) is never refused. */
int qk__slot_configure(qk_slot *sl, const qk_slot_ext *ext, qk_service s, const qk_service_def *def,
                       unsigned n_windows, const uint8_t *zone_nos, int64_t now_ms,
                       qk_event_sink *sink);

/* Copies the slot's numbers into out (all but the name). A rolling window's reset_at_ms is its
 * current bucket's end, when its count may next fall. */
void qk__slot_usage(const qk_slot *sl, qk_service s, int tripped, qk_usage *out);
/* After a consume of n (with flags) refused by window `tripped`: a rolling window's reset_at_ms
 * becomes the time that consume fits if nothing more is counted (ring.h, qk__ring_fits_at). */
void qk__slot_usage_refused(const qk_slot *sl, const qk_ring_set *rs, int tripped, uint64_t n,
                            unsigned flags, qk_usage *out);

#endif
