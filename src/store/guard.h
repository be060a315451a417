/* The store's guard under the slot lock: how a store tracker's consume, record and refund meet
 * the leases (guard.c: qk__guard_decide, called by the one apply in slot.h when the inline
 * checks cannot settle it). Everything here runs with the slot lock held and only reads and writes
 * the slot and its leases: no I/O, no allocation, no other lock. */
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
/* Whether every current window's lease holds n more calls at the fleet's time now_ms: inside
 * the lease's term (qk__store_slot.term_ms) only. */
int qk__guard_lease_holds(const qk__store_slot *ss, const qk_slot *sl, uint64_t n, int64_t now_ms);

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
