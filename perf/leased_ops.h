/* The tracker operations of a leased adapter (perf/leased.h), the same whatever the store:
 * included by strategy_leased.c and strategy_leased_ddb.c just before strategy_template.h, after
 * their own create, destroy and store_ops. */
#ifndef QK_PERF_LEASED_OPS_H
#define QK_PERF_LEASED_OPS_H

#include "leased.h"

static inline void adapter_record(void *state, uint32_t s)
{
    qk_record(((perf_leased *)state)->tracker, s, 1, NULL);
}

static inline bool adapter_consume(void *state, uint32_t s)
{
    return perf_leased_consume(state, s);
}

static inline void adapter_refund(void *state, uint32_t s)
{
    qk_refund(((perf_leased *)state)->tracker, s, 1);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    perf_leased_snapshot(state, used);
}

#endif
