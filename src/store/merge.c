#include "store/merge.h"

#include "store/lease.h"
#include "test_hooks.h"

_Static_assert(QK__STORE_RETIRE_MS >= 2 * QK__LEASE_TERM_MS,
               "a host's lease must run out well before the store retires it");

int qk__store_merge_window(qk__store_counts *c, const qk__store_window_req *req, int64_t now_ms,
                           unsigned how, uint64_t others)
{
    /* A host never refunds more than it used (src/store/engine.c): a request that does is
     * refused, as the script refuses it. */
    if (req->refunded > req->used)
        return QK__MERGE_REFUNDS_PAST_USE;
    /* G and U are sums over the hosts (of g - x and of u - r), moved by exact signed
     * differences: never floored at 0, or G would stop being the sum of what the hosts hold
     * after the store forgot a window that its hosts then re-assert (docs/store.md). */
    qk__store_counts n = *c;
    int64_t G = (int64_t)n.fleet_granted, U = (int64_t)n.fleet_used;
    /* Reports: each counter keeps the larger value; the fleet's use moves by the difference. */
    if (req->used > n.used) {
        U += (int64_t)(req->used - n.used);
        n.used = req->used;
    }
    if (req->refunded > n.refunded) {
        U -= (int64_t)(req->refunded - n.refunded);
        n.refunded = req->refunded;
    }
    /* Give-backs: the host's total only grows; the fleet's grants drop by the difference. */
    if (req->released > n.released) {
        G -= (int64_t)(req->released - n.released);
        n.released = req->released;
    }
    /* Overdraft: use past what the host holds (records, outage use) raises its grant to match. */
    const int64_t net = (int64_t)n.used - (int64_t)n.refunded;
    const int64_t held = (int64_t)n.granted - (int64_t)n.released;
    int64_t g = (int64_t)n.granted;
    if (net > held) {
        G += net - held;
        g += net - held;
    }
    /* A last word: what the host still holds goes back as it leaves (before the check, so a
     * window whose G was lowered by hand refuses it rather than going below zero). */
    const int last = (how & QK__MERGE_LAST_WORD) != 0;
    if (last && g - (int64_t)n.released > net) {
        G -= g - (int64_t)n.released - net;
        n.released = (uint64_t)(g - net);
    }
    /* With requests as hosts send them no total goes below zero: one that does was changed
     * behind the hosts' backs, and is refused rather than floored. Checked before the grant,
     * which only adds, so a refusal never depends on the store's time. */
    if (G < 0 || U < 0 || g < 0)
        return QK__MERGE_BELOW_ZERO;
    /* Grants: only what is left of the limit (for a rolling window's piece, after what its
     * other pieces within the horizon hold), only while the store's time is inside the window. */
    const int forever = req->end_ms == QK_NEVER;
    const int inside = forever || (now_ms >= req->start_ms && now_ms < req->end_ms);
    const int64_t cap = others < req->limit ? (int64_t)(req->limit - others) : 0;
    if ((how & QK__MERGE_MAY_GRANT) && !last && (int64_t)req->granted > g && G < cap && inside) {
        int64_t give = (int64_t)req->granted - g;
        if (give > cap - G)
            give = cap - G;
        g += give;
        G += give;
    }
    n.fleet_granted = (uint64_t)G;
    n.fleet_used = (uint64_t)U;
    n.granted = (uint64_t)g;
    *c = n;
    return QK__MERGE_OK;
}

int64_t qk__store_piece_ms(int64_t span_ms, int64_t clock_ms)
{
    int64_t piece = span_ms / 10 > 0 ? span_ms / 10 : 1;
    if (clock_ms > 1) {
        if (piece < 2 * clock_ms)
            piece = 2 * clock_ms;
        piece = (piece + clock_ms - 1) / clock_ms * clock_ms;
    }
    return piece;
}

int64_t qk__store_horizon_ms(int64_t span_ms, int64_t clock_ms)
{
    return span_ms + (clock_ms > 1 ? clock_ms : 1) + QK__ROLLING_SKEW_MS;
}

int64_t qk__store_retention_ms(int64_t start_ms, int64_t end_ms)
{
    return end_ms - start_ms > QK__STORE_RETENTION_MS ? end_ms - start_ms : QK__STORE_RETENTION_MS;
}

int qk__store_retire_counts(qk__store_counts *c)
{
    const uint64_t held = c->granted - c->released, net = c->used - c->refunded;
    if (held > net) {
        if (c->fleet_granted < held - net)
            return QK__MERGE_BELOW_ZERO;
        c->fleet_granted -= held - net;
        c->released = c->granted - net;
    }
    return QK__MERGE_OK;
}

int64_t qk__store_retire_ms(void)
{
    return qk__hooked_ms("QK_TEST_RETIRE_MS", QK__STORE_RETIRE_MS);
}
