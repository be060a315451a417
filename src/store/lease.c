#include <string.h>

#include "store/lease.h"
#include "test_hooks.h"

void qk__lease_start(qk__lease *l, int64_t start_ms, int64_t end_ms, uint64_t limit)
{
    memset(l, 0, sizeof *l);
    l->start_ms = start_ms;
    l->end_ms = end_ms;
    l->limit = limit;
}

uint64_t qk__lease_want(const qk__lease *l, uint64_t need, double rate_per_s, uint64_t lease_max,
                        int64_t target_ms)
{
    const uint64_t net = l->used - l->refunded;
    /* About target_ms of recent use, and at least what the caller needs now. */
    double target = rate_per_s * ((double)(target_ms > 0 ? target_ms : 0) / 1000.0);
    uint64_t chunk = target < 1.0 ? 1 : target > 1e15 ? (uint64_t)1e15 : (uint64_t)target;
    if (chunk < need)
        chunk = need;
    /* A fair part of what is left: half of it shared by the hosts seen lately, so one busy host
     * cannot take what the others will ask for in a moment. */
    if (l->synced) {
        const uint64_t left = l->fleet_granted < l->limit ? l->limit - l->fleet_granted : 0;
        const uint64_t hosts = l->active_hosts ? l->active_hosts : 1;
        uint64_t fair = left / (2 * hosts);
        if (fair < need)
            fair = need; /* the store still grants no more than it has */
        if (fair < 1)
            fair = 1;
        if (chunk > fair)
            chunk = fair;
    }
    if (lease_max != 0 && chunk > lease_max)
        chunk = lease_max < need ? need : lease_max;
    /* The total grant that leaves chunk calls held on top of what is given back and used. */
    const uint64_t want = l->released + net + chunk;
    return want > l->granted ? want : l->granted;
}

int qk__lease_fits_outage(const qk__lease *l, uint64_t n, qk_outage policy)
{
    if (qk__lease_fits(l, n))
        return 1;
    switch (policy) {
    case QK_OUTAGE_OPEN:
        return 1; /* the local limit alone decides */
    case QK_OUTAGE_CLOSED:
        return 0;
    case QK_OUTAGE_SAFE:
        break;
    }
    /* What the lease lacks comes out of the allowance. */
    const uint64_t beyond = n - qk__lease_left(l);
    return l->outage_allowance >= l->outage_used && beyond <= l->outage_allowance - l->outage_used;
}

int qk__lease_merge(qk__lease *l, uint64_t granted_host, uint64_t released_host,
                    uint64_t fleet_granted, uint64_t fleet_used, uint64_t limit,
                    uint32_t active_hosts, uint64_t sent_used, uint64_t sent_refunded)
{
    /* Both only grow, so an answer merged in any order leaves the larger of each. */
    if (granted_host > l->granted)
        l->granted = granted_host;
    if (released_host > l->released)
        l->released = released_host;
    /* An older request's answer, merged late: its U lacks use this host already had
     * acknowledged, so it must not replace the newer figures. */
    if (sent_used < l->acked_used || sent_refunded < l->acked_refunded)
        return 0;
    if (sent_used > l->acked_used)
        l->acked_used = sent_used;
    if (sent_refunded > l->acked_refunded)
        l->acked_refunded = sent_refunded;
    /* The store's figures are believed only as far as they cover what this host knows of
     * itself: an answer (a store that lost or never kept this host's counters, a liar) never
     * lowers the fleet's use below this host's acknowledged use, nor its grants below what
     * this host holds. */
    const uint64_t own_used =
        l->acked_used > l->acked_refunded ? l->acked_used - l->acked_refunded : 0;
    const uint64_t own_held = l->granted > l->released ? l->granted - l->released : 0;
    l->fleet_granted = fleet_granted > own_held ? fleet_granted : own_held;
    l->fleet_used = fleet_used > own_used ? fleet_used : own_used;
    l->limit = limit;
    l->active_hosts = active_hosts ? active_hosts : 1;
    l->synced = 1;
    /* While the store answers, the outage allowance is re-measured from what the fleet has
     * left: a quarter of it, shared by the hosts seen lately. */
    const uint64_t left = l->fleet_granted < limit ? limit - l->fleet_granted : 0;
    l->outage_allowance = left * QK__OUTAGE_SAFE_PCT / 100 / l->active_hosts;
    l->outage_used = 0;
    return 1;
}

int64_t qk__store_offset_believed(int64_t believed_ms, int64_t measured_ms)
{
    if (measured_ms > QK__STORE_SKEW_MAX_MS || measured_ms < -QK__STORE_SKEW_MAX_MS)
        return believed_ms;
    return measured_ms;
}

int64_t qk__lease_term_ms(void)
{
    return qk__hooked_ms("QK_TEST_LEASE_TERM_MS", QK__LEASE_TERM_MS);
}
