/* What the two leased adapters (strategy_leased.c on Redis, strategy_leased_ddb.c on DynamoDB)
 * share: `sharded`'s tracker (one QK_FOREVER window per service, no callback) with a store
 * attached and a large lease_max, opened and warmed until a lease is in hand, so the figures are
 * about consumes that stay local. Each adapter adds only its store: the URL, the timeout, what
 * counts as a store operation, and how to delete its keys. */
#ifndef QK_PERF_LEASED_H
#define QK_PERF_LEASED_H

#include <quotakeeper.h>
#include <stdatomic.h>

#include "harness.h"

#define PERF_LEASED_LEASE_MAX 10000000u

typedef struct {
    qk_tracker *tracker;
    uint32_t n;
    qk_usage *usage;
    char (*names)[QK_NAME_MAX]; /* <prefix><pid>.<instance>.<service>: no run meets another's */
    uint64_t ops_at_start;      /* the adapter's store operations when timing may start */
    _Atomic unsigned told;      /* refusals named on stderr (perf_leased_refused) */
} perf_leased;

/* Opens the tracker on store `url`, then consumes and gives back on each service until the
 * sync thread's rate estimate has bought a lease worth having, or warm_ns passed. */
perf_leased *perf_leased_open(const perf_setup *setup, const char *url, const char *prefix,
                              int64_t timeout_ms, uint64_t warm_ns);
/* Frees the tracker (its last sync gives the lease back); the names stay for the cleanup. */
void perf_leased_close_tracker(perf_leased *l);
void perf_leased_free(perf_leased *l);
void perf_leased_snapshot(perf_leased *l, uint64_t *used);
/* Says on stderr why a consume was refused when the refusal is not a plain "over the limit":
 * a timed-out wait for the store (QK_EUNAVAIL), or QK_ELIMIT while the service had room. The
 * runner counts refusals; this names their cause. The first few per run only. */
void perf_leased_refused(perf_leased *l, uint32_t s, int rc);

static inline bool perf_leased_consume(perf_leased *l, uint32_t s)
{
    const int rc = qk_try_consume(l->tracker, s, 1, 0, NULL);
    if (__builtin_expect(rc != QK_OK, 0)) {
        perf_leased_refused(l, s, rc);
        return false;
    }
    return true;
}

/* The tracker's syncs so far (qk_store_status). */
uint64_t perf_leased_syncs(perf_leased *l);

#endif
