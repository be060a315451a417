/* The degraded/up hysteresis (health.h). Lock-free: with a state file the counters live in the
 * store area, shared by every process of the host, each counting its own operations. */
#include "store/health.h"

int qk__health_count(qk__store_health *h, int ok)
{
    if (ok) {
        atomic_fetch_add(&h->total_oks, 1);
        atomic_store(&h->fails, 0);
        const uint32_t oks = atomic_fetch_add(&h->oks, 1) + 1;
        uint32_t was = 1;
        if (oks >= QK__STORE_OKS_TO_RECOVER &&
            atomic_compare_exchange_strong(&h->degraded, &was, 0))
            return -1;
        return 0;
    }
    atomic_fetch_add(&h->total_fails, 1);
    atomic_store(&h->oks, 0);
    const uint32_t fails = atomic_fetch_add(&h->fails, 1) + 1;
    uint32_t was = 0;
    if (fails >= QK__STORE_FAILS_TO_DEGRADE &&
        atomic_compare_exchange_strong(&h->degraded, &was, 1))
        return 1;
    return 0;
}
