/* Keys of the per-call store strategies: one counter per service, named after the process and
 * the adapter instance, so no run meets an earlier one's counts. */
#ifndef QK_PERF_REDIS_KEYS_H
#define QK_PERF_REDIS_KEYS_H

#include <stdio.h>
#include <unistd.h>

#include "harness.h"

#define PERF_KEY_MAX 64
/* A counter outlives any run by far; it only keeps a crashed run's keys from staying. */
#define PERF_KEY_TTL_MS 3600000

static inline void perf_redis_keys(char (*keys)[PERF_KEY_MAX], uint32_t n, const char *strategy)
{
    static unsigned instances;
    const unsigned instance = __atomic_fetch_add(&instances, 1, __ATOMIC_RELAXED);
    for (uint32_t s = 0; s < n; s++)
        snprintf(keys[s], PERF_KEY_MAX, "perf:%s:%ld.%u:%u", strategy, (long)getpid(), instance, s);
}

#endif
