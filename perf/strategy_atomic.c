/* atomic: lock-free counters, one per 128-byte slot. The physical floor for counting: a
 * relaxed fetch_add per record and a compare-and-swap loop per consume. A snapshot reads the
 * counters one by one, so it is no consistent cut. */
#include <stdlib.h>

#include "harness.h"

typedef struct {
    _Alignas(128) _Atomic uint64_t used;
    uint64_t limit;
} atomic_slot;

typedef struct {
    uint32_t n;
    atomic_slot *slots;
} atomic_state;

static void *adapter_create(const perf_setup *setup)
{
    atomic_state *st = perf_alloc(sizeof *st);
    st->n = setup->n_services;
    st->slots = perf_alloc(st->n * sizeof *st->slots);
    for (uint32_t s = 0; s < st->n; s++) {
        atomic_init(&st->slots[s].used, 0);
        st->slots[s].limit = setup->limits[s];
    }
    return st;
}

static void adapter_destroy(void *state)
{
    atomic_state *st = state;
    free(st->slots);
    free(st);
}

static inline void adapter_record(void *state, uint32_t s)
{
    atomic_fetch_add_explicit(&((atomic_state *)state)->slots[s].used, 1, memory_order_relaxed);
}

static inline bool adapter_consume(void *state, uint32_t s)
{
    atomic_slot *slot = &((atomic_state *)state)->slots[s];
    uint64_t used = atomic_load_explicit(&slot->used, memory_order_relaxed);
    while (used < slot->limit)
        if (atomic_compare_exchange_weak_explicit(&slot->used, &used, used + 1,
                                                  memory_order_relaxed, memory_order_relaxed))
            return true;
    return false;
}

static inline void adapter_refund(void *state, uint32_t s)
{
    /* Only ever called after a granted consume, so the count cannot go below zero. */
    atomic_fetch_sub_explicit(&((atomic_state *)state)->slots[s].used, 1, memory_order_relaxed);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    atomic_state *st = state;
    for (uint32_t s = 0; s < st->n; s++)
        used[s] = atomic_load_explicit(&st->slots[s].used, memory_order_relaxed);
}

#define ADAPTER_SYMBOL perf_adapter_atomic
#include "strategy_template.h"
