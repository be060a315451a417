/* The store's guard under the slot lock: how a store tracker's consume, record and refund meet
 * the leases (guard.c), and the inline fast path that serves the common consume and record with
 * a lease in hand. Everything here runs with the slot lock held and only reads and writes the
 * slot and its leases: no I/O, no allocation, no other lock. */
#ifndef QK_STORE_GUARD_H
#define QK_STORE_GUARD_H

#include "store/engine.h"

/* Keeps lease i on the slot's window i; the lease of a window that ended is kept as prev until
 * its last counts reach the store. */
static inline __attribute__((always_inline)) void
qk__guard_align_lease(qk__store_slot *ss, const qk_slot *sl, unsigned i)
{
    qk__lease *c = &ss->cur[i];
    const qk_window *w = &sl->w[i];
    if (c->start_ms != w->start_ms || c->end_ms != w->end_ms) {
        if (c->end_ms > c->start_ms && qk__lease_unsynced(c) > 0)
            ss->prev[i] = *c;
        qk__lease_start(c, w->start_ms, w->end_ms, w->limit);
        if (i == 0) {
            ss->rate_mark_used = 0;
            ss->rate_mark_ms = 0;
        }
    }
    if (c->limit != w->limit) /* written only when it changed: every consume comes here */
        c->limit = w->limit;
}

static inline __attribute__((always_inline)) void qk__guard_align_all(qk__store_slot *ss,
                                                                      const qk_slot *sl)
{
    for (unsigned i = 0; i < sl->n_windows; i++)
        qk__guard_align_lease(ss, sl, i);
}

/* The fast path's gates (qk__lease.gate): closed before a lease's counters may go down in
 * effect (a give-back, a merge), opened after every change. */
void qk__guard_close_gates(qk__store_slot *ss);
void qk__guard_open_gates(qk__store_slot *ss, unsigned nw);
/* Whether every current window's lease holds n more calls. */
int qk__guard_lease_holds(const qk__store_slot *ss, const qk_slot *sl, uint64_t n);

/* A single-slot operation on a store tracker, with the slot lock held (tracker.c's apply). */
int qk__store_apply(qk__store *st, qk_service s, const qk_op *op, int64_t now, qk_event_sink *sink,
                    int *tripped, uint64_t epoch);
/* Asks for the sync thread to wake, once the caller has released every lock (the sink's
 * wake_store: the tracker then calls qk__store_wake). */
static inline void qk__store_add_wake(qk_event_sink *sink, qk_service s)
{
    (void)s;
    sink->wake_store = 1;
}

/* The common consume or record of a store tracker, with the slot lock held: every window
 * current and its lease on it; for a consume, under its local limit and under the lease's gate
 * (the calls fit and leave it not low: a consume that makes it low takes the general path,
 * which wakes the sync thread); for a record (a fact: past the lease it is an overdraft), n more
 * fitting in every count. Then it is counted in one pass over the windows, and the store's
 * health is not looked at (it matters only past the lease). Anything else returns QK__ESLOW
 * having changed nothing, and qk__store_apply decides. Inline, so that these paths of a store
 * tracker are one straight path like a private one's; `kind` is a constant.
 *
 * The lease's limit is not compared: only a sync reads it, and plan_sync aligns it first. A
 * lease given back (ss->released) has its gates closed, so only a record looks at the flag. */
static inline __attribute__((always_inline)) int
qk__store_use_fast_n(qk_slot *sl, qk__store_slot *ss, qk_service s, qk_op_kind kind, uint64_t n,
                     unsigned flags, int64_t now, int shared, uint64_t epoch, qk_event_sink *sink,
                     const unsigned nw)
{
    int wake = 0;
    for (unsigned i = 0; i < nw; i++) {
        const qk_window *w = &sl->w[i];
        const qk__lease *l = &ss->cur[i];
        uint64_t after;
        if (qk__window_ended(w, now) || l->start_ms != w->start_ms || l->end_ms != w->end_ms ||
            __builtin_add_overflow(l->used, n, &after))
            return QK__ESLOW;
        if (kind == QK_OP_CONSUME && (qk__window_refuses(sl, w, n, flags) || after >= l->gate))
            return QK__ESLOW;
        if (kind == QK_OP_RECORD) {
            if (n > UINT64_MAX - w->used)
                return QK__ESLOW;                          /* QK_ERANGE, from the general path */
            wake |= l->used < l->gate && after >= l->gate; /* qk__lease_crosses_low */
        }
    }
    if (shared)
        qk__slot_begin(sl, epoch, nw);
    for (unsigned i = 0; i < nw; i++) {
        ss->cur[i].used += n;
        qk__slot_set_used(sl, s, i, sl->w[i].used + n, sink);
    }
    if (ss->last_use_ms != now)
        ss->last_use_ms = now;
    if (kind == QK_OP_RECORD && ss->released)
        ss->released = 0; /* its gates open at the next general pass or merge */
    if (shared && epoch == 0)
        qk__slot_end(sl);
    if (kind == QK_OP_RECORD && wake)
        qk__store_add_wake(sink, s);
    return QK_OK;
}

/* One window (the common definition) compiles to straight code; more take the loops. A state
 * file's journal is a constant on each path too. */
static inline __attribute__((always_inline)) int
qk__store_use_fast(qk_slot *sl, qk__store_slot *ss, qk_service s, qk_op_kind kind, uint64_t n,
                   unsigned flags, int64_t now, int shared, uint64_t epoch, qk_event_sink *sink)
{
    if (shared)
        return qk__store_use_fast_n(sl, ss, s, kind, n, flags, now, 1, epoch, sink, sl->n_windows);
    if (sl->n_windows == 1)
        return qk__store_use_fast_n(sl, ss, s, kind, n, flags, now, 0, epoch, sink, 1);
    return qk__store_use_fast_n(sl, ss, s, kind, n, flags, now, 0, epoch, sink, sl->n_windows);
}

#endif
