/* The store's guard under the slot lock: how a store tracker's consume, record and refund meet
 * the leases (guard.c: qk__guard_decide, called by the one apply in slot.h when the inline
 * checks cannot settle it). Everything here runs with the slot lock held and only reads and writes
 * the slot and its leases: no I/O, no allocation, no other lock. */
#ifndef QK_STORE_GUARD_H
#define QK_STORE_GUARD_H

#include "store/engine.h"
#include "store/merge.h"

/* The bounds a lease on window w is kept on at the fleet's time now_ms: the window's own, or for
 * a rolling window the piece of it that now_ms is in (merge.h: pieces of
 * qk__store_piece_ms, aligned from the epoch, for a store whose clock counts clock_ms). */
static inline void qk__guard_lease_bounds(const qk_window *w, int64_t now_ms, int64_t clock_ms,
                                          int64_t *start_ms, int64_t *end_ms)
{
    if (!(w->flags & QK_WINDOW_ROLLING)) {
        *start_ms = w->start_ms;
        *end_ms = w->end_ms;
        return;
    }
    const int64_t piece = qk__store_piece_ms(qk__window_rolling_ms(w), clock_ms);
    const int64_t q = now_ms / piece;
    *start_ms = (now_ms % piece < 0 ? q - 1 : q) * piece;
    *end_ms = *start_ms + piece;
}

/* Keeps lease i on the slot's window i (a rolling window's: on its piece at now_ms); the lease
 * of a window or piece that ended is kept as prev until its last counts reach the store, and a
 * piece's also while it holds calls, which go back then: a piece's grant counts against its
 * window for a whole horizon unless given back. */
static inline __attribute__((always_inline)) void qk__guard_align_lease(qk__store_slot *ss,
                                                                        const qk_slot *sl,
                                                                        unsigned i, int64_t now_ms,
                                                                        int64_t clock_ms)
{
    qk__lease *c = &ss->cur[i];
    const qk_window *w = &sl->w[i];
    int64_t start, end;
    qk__guard_lease_bounds(w, now_ms, clock_ms, &start, &end);
    const int rolling = (w->flags & QK_WINDOW_ROLLING) != 0;
    /* Pieces only move forward: a call whose clock was read before another thread moved the
     * lease on happens now, in the later piece, and a move back would drop that piece's lease
     * and counts. (A fixed window's lease follows its window, which only rolls forward.) */
    if (rolling && start < c->start_ms && c->end_ms - c->start_ms == end - start)
        start = c->start_ms, end = c->end_ms;
    if (c->start_ms != start || c->end_ms != end) {
        if (c->end_ms > c->start_ms &&
            (qk__lease_unsynced(c) > 0 || (rolling && qk__lease_left(c) > 0)))
            ss->prev[i] = *c;
        /* A piece is one stretch of its window: what the last answer said of the fleet (the
         * hosts active, what the window's pieces hold) still sizes the next piece's first ask
         * (qk__lease_want's fair part), and the rate goes on being measured across the move. */
        const uint32_t hosts = c->active_hosts, synced = c->synced;
        const uint64_t held = c->fleet_granted;
        qk__lease_start(c, start, end, w->limit);
        if (rolling) {
            c->active_hosts = hosts;
            c->fleet_granted = held;
            c->synced = synced;
        }
        if (i == 0) {
            ss->rate_mark_used = 0;
            if (!rolling)
                ss->rate_mark_ms = 0;
        }
    }
    if (c->limit != w->limit) /* written only when it changed: every consume comes here */
        c->limit = w->limit;
}

static inline __attribute__((always_inline)) void
qk__guard_align_all(qk__store_slot *ss, const qk_slot *sl, int64_t now_ms, int64_t clock_ms)
{
    for (unsigned i = 0; i < sl->n_windows; i++)
        qk__guard_align_lease(ss, sl, i, now_ms, clock_ms);
}

/* The fast path's gates (qk__lease.gate): closed before a lease's counters may go down in
 * effect (a give-back, a merge), opened after every change. */
void qk__guard_close_gates(qk__store_slot *ss);
void qk__guard_open_gates(qk__store_slot *ss, unsigned nw);
/* Whether every current window's lease holds n more calls at the fleet's time now_ms: inside
 * the lease's term (qk__store_slot.term_ms) and on its window or piece only. */
int qk__guard_lease_holds(const qk__store_slot *ss, const qk_slot *sl, uint64_t n, int64_t now_ms,
                          int64_t clock_ms);

/* A store tracker's apply of op to service s, its slot locked: journaled in a state file
 * (epoch as for qk__slot_begin), with the guard. For the engine's own consume after a sync; the
 * tracker inlines the same. */
static inline int qk__guard_apply(qk__store *st, qk_service s, const qk_op *op, int64_t now_ms,
                                  qk_event_sink *sink, int *tripped, uint64_t epoch)
{
    qk_slot *sl = &st->ctx.region->slots[s];
    if (st->ctx.shared)
        qk__slot_begin(sl, epoch, sl->n_windows);
    const int rc = qk__slot_apply_guarded(sl, &st->ctx.region->ext, s, op, now_ms, sink, tripped,
                                          st, &st->area.slots[s]);
    if (st->ctx.shared && epoch == 0)
        qk__slot_end(sl);
    return rc;
}

#endif
