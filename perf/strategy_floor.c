/* floor: the least a per-service lock can cost. A bare 128-byte slot with its own mutex,
 * doing only lock, increment, unlock: no clock, no windows, no levels. Snapshots take every
 * slot lock in ascending order. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"

typedef struct {
    _Alignas(128) pthread_mutex_t lock;
    uint64_t used, limit;
} floor_slot;

typedef struct {
    uint32_t n;
    floor_slot *slots;
} floor_state;

static void *adapter_create(const perf_setup *setup)
{
    floor_state *st = perf_alloc(sizeof *st);
    st->n = setup->n_services;
    st->slots = perf_alloc(st->n * sizeof *st->slots);
    for (uint32_t s = 0; s < st->n; s++) {
        pthread_mutex_init(&st->slots[s].lock, NULL);
        st->slots[s].limit = setup->limits[s];
    }
    return st;
}

static void adapter_destroy(void *state)
{
    floor_state *st = state;
    for (uint32_t s = 0; s < st->n; s++)
        pthread_mutex_destroy(&st->slots[s].lock);
    free(st->slots);
    free(st);
}

static inline void adapter_record(void *state, uint32_t s)
{
    floor_slot *slot = &((floor_state *)state)->slots[s];
    pthread_mutex_lock(&slot->lock);
    slot->used++;
    pthread_mutex_unlock(&slot->lock);
}

static inline bool adapter_consume(void *state, uint32_t s)
{
    floor_slot *slot = &((floor_state *)state)->slots[s];
    pthread_mutex_lock(&slot->lock);
    const bool granted = slot->used < slot->limit;
    slot->used += granted;
    pthread_mutex_unlock(&slot->lock);
    return granted;
}

static inline void adapter_refund(void *state, uint32_t s)
{
    floor_slot *slot = &((floor_state *)state)->slots[s];
    pthread_mutex_lock(&slot->lock);
    slot->used -= slot->used > 0;
    pthread_mutex_unlock(&slot->lock);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    floor_state *st = state;
    for (uint32_t s = 0; s < st->n; s++)
        pthread_mutex_lock(&st->slots[s].lock);
    for (uint32_t s = 0; s < st->n; s++)
        used[s] = st->slots[s].used;
    for (uint32_t s = st->n; s-- > 0;)
        pthread_mutex_unlock(&st->slots[s].lock);
}

#define ADAPTER_SYMBOL perf_adapter_floor
#include "strategy_template.h"
