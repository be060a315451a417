/* FIXTURE (tests/store_legacy): src/store/merge.c as released at commit 3a831db, kept verbatim
 * as the "old host" of the mixed-fleet test (the qk_store_v2 library variant). Never edit it to
 * follow today's code: it is what a host of that release writes into the store. The only changes
 * are this comment and what compiling against today's internal headers takes, all made by
 * tests/store_legacy/CMakeLists.txt, none in the text: quoted includes of store/merge.h,
 * store/dynamodb.h, store/redis.h and qk_merge_lua.h resolve to the frozen copies (-iquote), and
 * qk__store_merge_window and qk__store_retention_ms are renamed qk__v2_* so that they do not
 * clash with today's merge.c, which the rest of the library keeps. */
#include "store/merge.h"

int qk__store_merge_window(qk__store_counts *c, const qk__store_window_req *req, int64_t now_ms)
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
    /* With requests as hosts send them no total goes below zero: one that does was changed
     * behind the hosts' backs, and is refused rather than floored. Checked before the grant,
     * which only adds, so a refusal never depends on the store's time. */
    if (G < 0 || U < 0 || g < 0)
        return QK__MERGE_BELOW_ZERO;
    /* Grants: only what is left of the limit, only while the store's time is inside the window. */
    const int forever = req->end_ms == QK_NEVER;
    const int inside = forever || (now_ms >= req->start_ms && now_ms < req->end_ms);
    if ((int64_t)req->granted > g && G < (int64_t)req->limit && inside) {
        int64_t give = (int64_t)req->granted - g;
        if (give > (int64_t)req->limit - G)
            give = (int64_t)req->limit - G;
        g += give;
        G += give;
    }
    n.fleet_granted = (uint64_t)G;
    n.fleet_used = (uint64_t)U;
    n.granted = (uint64_t)g;
    *c = n;
    return QK__MERGE_OK;
}

int64_t qk__store_retention_ms(int64_t start_ms, int64_t end_ms)
{
    return end_ms - start_ms > QK__STORE_RETENTION_MS ? end_ms - start_ms : QK__STORE_RETENTION_MS;
}
