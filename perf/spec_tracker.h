/* The spec's QuotaTracker in C, for the strategies that reproduce its locking (racy, global,
 * rwlock): one object holding every service, and record_call's work on it (count, remaining,
 * the day's total, updated_at from the same coarse clock quotakeeper reads). The strategies
 * differ only in how they lock around it. */
#ifndef QK_PERF_SPEC_TRACKER_H
#define QK_PERF_SPEC_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"

typedef struct {
    uint64_t used, limit, remaining;
} spec_usage;

typedef struct {
    uint32_t n;
    uint64_t total_calls;
    int64_t updated_at_ms;
    spec_usage services[PERF_MAX_SERVICES];
} spec_tracker;

static inline void spec_init(spec_tracker *t, const perf_setup *setup)
{
    if (setup->n_services > PERF_MAX_SERVICES)
        perf_die("the spec tracker holds at most %d services", PERF_MAX_SERVICES);
    t->n = setup->n_services;
    for (uint32_t s = 0; s < t->n; s++)
        t->services[s] = (spec_usage){0, setup->limits[s], setup->limits[s]};
}

/* record_call(svc, count): never refuses; a negative count is a refund. */
static inline void spec_record(spec_tracker *t, uint32_t s, int64_t count)
{
    spec_usage *u = &t->services[s];
    u->used += (uint64_t)count;
    u->remaining = u->used >= u->limit ? 0 : u->limit - u->used;
    t->total_calls += (uint64_t)count;
    t->updated_at_ms = perf_coarse_ms();
}

/* The check half of check-then-record. */
static inline bool spec_can_consume(const spec_tracker *t, uint32_t s)
{
    return t->services[s].used < t->services[s].limit;
}

/* Copies the whole tracker, as the spec's cache handed out its object: only the live part. */
static inline void spec_copy(spec_tracker *dst, const spec_tracker *src)
{
    memcpy(dst, src, offsetof(spec_tracker, services) + src->n * sizeof src->services[0]);
}

static inline void spec_copy_used(const spec_tracker *t, uint64_t *used)
{
    for (uint32_t s = 0; s < t->n; s++)
        used[s] = t->services[s].used;
}

#endif
