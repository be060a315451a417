/* The store's guard under the slot lock (guard.h): what a consume, a record or a refund of a
 * store tracker does to the slot and its leases. A slot lock is a leaf: this file only reads and
 * writes the slot and its leases, and asks for a sync through the sink. */
#include "store/guard.h"

/* The fast path's gates (qk__lease.gate). Closed before a lease's g, x or r may go down in
 * effect (a give-back, a merge), opened after every change: a process killed in between leaves
 * them closed, and the next general pass opens them. The fences order the stores against such a
 * kill, as the slot's journal does. A lease given back stays closed until its next use. */
void qk__guard_close_gates(qk__store_slot *ss)
{
    for (unsigned i = 0; i < QK_MAX_WINDOWS; i++)
        ss->cur[i].gate = 0;
    atomic_signal_fence(memory_order_seq_cst);
}

void qk__guard_open_gates(qk__store_slot *ss, unsigned nw)
{
    atomic_signal_fence(memory_order_seq_cst);
    for (unsigned i = 0; i < nw; i++)
        ss->cur[i].gate = ss->released ? 0 : qk__lease_gate(&ss->cur[i]);
}

/* Whether every current window's lease holds n more calls, inside the lease's term. */
int qk__guard_lease_holds(const qk__store_slot *ss, const qk_slot *sl, uint64_t n, int64_t now_ms,
                          int64_t clock_ms)
{
    if (now_ms >= ss->term_ms)
        return 0;
    for (unsigned i = 0; i < sl->n_windows; i++) {
        int64_t start, end;
        qk__guard_lease_bounds(&sl->w[i], now_ms, clock_ms, &start, &end);
        if (ss->cur[i].start_ms != start || !qk__lease_fits(&ss->cur[i], n))
            return 0;
    }
    return 1;
}

/* Whether n more calls may be consumed on top of the local windows' check: every lease holds
 * them, or the store is out (degraded, or this consume's own sync just failed) and the outage
 * policy allows them. QK_OK, QK_ELIMIT or QK_EUNAVAIL (window *tripped); QK_ELIMIT with
 * QK__SINK_NEED_SYNC in the sink when a sync may bring the lease (not after one already did). */
static int lease_decision(qk__store *st, qk_service s, const qk__store_slot *ss, unsigned nw,
                          uint64_t n, unsigned flags, int64_t now_ms, int *tripped,
                          qk_event_sink *sink)
{
    const int out = atomic_load_explicit(&st->area.hdr->health.degraded, memory_order_relaxed) ||
                    (flags & QK__CONSUME_STORE_FAILED);
    /* Past its term the lease is not this host's to use: the store may have retired the host
     * and taken it back (docs/store.md, "Retirement"). A sync renews the term. */
    const int in_term = now_ms < ss->term_ms;
    for (unsigned i = 0; i < nw; i++) {
        const qk__lease *l = &ss->cur[i];
        if (in_term && qk__lease_fits(l, n))
            continue;
        *tripped = (int)i;
        if (!out) {
            if (!(flags & QK__CONSUME_AFTER_SYNC))
                sink->store |= QK__SINK_NEED_SYNC;
            return QK_ELIMIT;
        }
        if (!qk__lease_fits_outage(l, n, st->outage[s]))
            return QK_EUNAVAIL;
    }
    return QK_OK;
}

int qk__guard_decide(qk__store *st, qk_slot *sl, qk__store_slot *ss, qk_service s, const qk_op *op,
                     int64_t now_ms, int *tripped, qk_event_sink *sink)
{
    qk__guard_align_all(ss, sl, now_ms, qk__store_clock_res(st)); /* windows rolled by the caller */
    const unsigned nw = sl->n_windows;
    int rc = QK_OK;
    switch (op->kind) {
    case QK_OP_CONSUME:
        /* The local limits passed: the leases, or the outage policy, must hold the calls too. */
        if ((rc = lease_decision(st, s, ss, nw, op->n, op->flags, now_ms, tripped, sink)) != QK_OK)
            break;
        for (unsigned i = 0; i < nw; i++) {
            qk__lease *l = &ss->cur[i];
            const uint64_t from_lease = op->n < qk__lease_left(l) ? op->n : qk__lease_left(l);
            l->outage_used += op->n - from_lease;
        }
        ss->released = 0; /* before the gates: a use takes the lease back */
        break;
    case QK_OP_RECORD:
        /* A record is a fact: counted whatever the lease; beyond it, the store records an
         * overdraft at the next sync. */
        ss->released = 0;
        break;
    case QK_OP_REFUND:
        /* Only this host's own net use can be given back to the fleet. */
        for (unsigned i = 0; i < nw; i++) {
            qk__lease *l = &ss->cur[i];
            const uint64_t own = l->used - l->refunded;
            l->refunded += op->n < own ? op->n : own;
        }
        break;
    default: /* peek, set_used and reset change this host's view only */
        break;
    }
    qk__guard_open_gates(ss, nw); /* every change above only opens them further */
    return rc;
}
