#include "store/merge.h"

void qk__store_merge_window(qk__store_counts *c, const qk__store_window_req *req, int64_t now_ms)
{
    /* Reports: each counter keeps the larger value; the fleet's use moves by the difference. */
    if (req->used > c->used) {
        c->fleet_used += req->used - c->used;
        c->used = req->used;
    }
    if (req->refunded > c->refunded) {
        const uint64_t d = req->refunded - c->refunded;
        c->fleet_used = c->fleet_used > d ? c->fleet_used - d : 0;
        c->refunded = req->refunded;
    }
    /* Give-backs: the host's total only grows; the fleet's grants drop by the difference. */
    if (req->released > c->released) {
        const uint64_t d = req->released - c->released;
        c->fleet_granted = c->fleet_granted > d ? c->fleet_granted - d : 0;
        c->released = req->released;
    }
    /* Overdraft: use past what the host holds (records, outage use) raises its grant to match. */
    const uint64_t net = c->used > c->refunded ? c->used - c->refunded : 0;
    const uint64_t held = c->granted > c->released ? c->granted - c->released : 0;
    if (net > held) {
        c->fleet_granted += net - held;
        c->granted += net - held;
    }
    const int forever = req->end_ms == QK_NEVER;
    const int inside = forever || (now_ms >= req->start_ms && now_ms < req->end_ms);
    if (req->granted > c->granted && c->fleet_granted < req->limit && inside) {
        uint64_t give = req->granted - c->granted;
        if (give > req->limit - c->fleet_granted)
            give = req->limit - c->fleet_granted;
        c->granted += give;
        c->fleet_granted += give;
    }
}

int64_t qk__store_retention_ms(int64_t start_ms, int64_t end_ms)
{
    const int64_t day = INT64_C(86400000);
    return end_ms - start_ms > day ? end_ms - start_ms : day;
}
