/* The degraded/up hysteresis of a host's store: how many failures in a row make it degraded,
 * how many successes bring it back (docs/store.md, "Outages"). */
#ifndef QK_STORE_HEALTH_H
#define QK_STORE_HEALTH_H

#include <stdatomic.h>
#include <stdint.h>

/* Failures that enter the degraded state, successes that leave it (the original's numbers). */
#define QK__STORE_FAILS_TO_DEGRADE 3
#define QK__STORE_OKS_TO_RECOVER   5

/* The degraded/up hysteresis: consecutive failures and successes of store operations. Atomic
 * fields: with a state file it lives in the store area, shared by every process of the host,
 * each counting its own operations; the process whose count crosses a threshold makes the
 * transition (and reports it). */
typedef struct {
    _Atomic uint32_t degraded;
    _Atomic uint32_t fails, oks; /* consecutive */
    _Atomic uint64_t total_fails, total_oks;
} qk__store_health;

/* Counts one operation's outcome; returns +1 when it entered the degraded state, -1 when it
 * left it, 0 otherwise. */
int qk__health_count(qk__store_health *h, int ok);

#endif
