/* ck: the floor's layout with Concurrency Kit's default spinlock (ck_spinlock_t, a
 * fetch-and-store lock) in place of the pthread mutex: a peer from outside pthreads. Spinning
 * waiters never sleep, which is what oversubscription punishes. Snapshots take every slot lock
 * in ascending order. */
#include <stdlib.h>

#include <ck_spinlock.h>

#include "harness.h"

typedef struct {
    _Alignas(128) ck_spinlock_t lock;
    uint64_t used, limit;
} ck_slot;

typedef struct {
    uint32_t n;
    ck_slot *slots;
} ck_state;

static void *adapter_create(const perf_setup *setup)
{
    ck_state *st = perf_alloc(sizeof *st);
    st->n = setup->n_services;
    st->slots = perf_alloc(st->n * sizeof *st->slots);
    for (uint32_t s = 0; s < st->n; s++) {
        ck_spinlock_init(&st->slots[s].lock);
        st->slots[s].limit = setup->limits[s];
    }
    return st;
}

static void adapter_destroy(void *state)
{
    ck_state *st = state;
    free(st->slots);
    free(st);
}

static inline void adapter_record(void *state, uint32_t s)
{
    ck_slot *slot = &((ck_state *)state)->slots[s];
    ck_spinlock_lock(&slot->lock);
    slot->used++;
    ck_spinlock_unlock(&slot->lock);
}

static inline bool adapter_consume(void *state, uint32_t s)
{
    ck_slot *slot = &((ck_state *)state)->slots[s];
    ck_spinlock_lock(&slot->lock);
    const bool granted = slot->used < slot->limit;
    slot->used += granted;
    ck_spinlock_unlock(&slot->lock);
    return granted;
}

static inline void adapter_refund(void *state, uint32_t s)
{
    ck_slot *slot = &((ck_state *)state)->slots[s];
    ck_spinlock_lock(&slot->lock);
    slot->used -= slot->used > 0;
    ck_spinlock_unlock(&slot->lock);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    ck_state *st = state;
    for (uint32_t s = 0; s < st->n; s++)
        ck_spinlock_lock(&st->slots[s].lock);
    for (uint32_t s = 0; s < st->n; s++)
        used[s] = st->slots[s].used;
    for (uint32_t s = st->n; s-- > 0;)
        ck_spinlock_unlock(&st->slots[s].lock);
}

#define ADAPTER_SYMBOL perf_adapter_ck
#include "strategy_template.h"
