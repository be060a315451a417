/* rwlock: the spec's tracker behind one global rwlock; updates write-lock it, snapshots take
 * it as readers, so snapshots do not exclude each other. */
#include <pthread.h>
#include <stdlib.h>

#include "spec_tracker.h"

typedef struct {
    pthread_rwlock_t lock;
    spec_tracker tracker;
} rwlock_state;

static void *adapter_create(const perf_setup *setup)
{
    rwlock_state *st = perf_alloc(sizeof *st);
    pthread_rwlock_init(&st->lock, NULL);
    spec_init(&st->tracker, setup);
    return st;
}

static void adapter_destroy(void *state)
{
    rwlock_state *st = state;
    pthread_rwlock_destroy(&st->lock);
    free(st);
}

/* Out of line, like every tracker here: the spec's tracker is a module its callers call, as
 * quotakeeper is, so neither side of a comparison is inlined into the timed loop. */
QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    rwlock_state *st = state;
    pthread_rwlock_wrlock(&st->lock);
    spec_record(&st->tracker, s, 1);
    pthread_rwlock_unlock(&st->lock);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    rwlock_state *st = state;
    pthread_rwlock_wrlock(&st->lock);
    const bool granted = spec_can_consume(&st->tracker, s);
    if (granted)
        spec_record(&st->tracker, s, 1);
    pthread_rwlock_unlock(&st->lock);
    return granted;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    rwlock_state *st = state;
    pthread_rwlock_wrlock(&st->lock);
    spec_record(&st->tracker, s, -1);
    pthread_rwlock_unlock(&st->lock);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    rwlock_state *st = state;
    pthread_rwlock_rdlock(&st->lock);
    spec_copy_used(&st->tracker, used);
    pthread_rwlock_unlock(&st->lock);
}

#define ADAPTER_SYMBOL perf_adapter_rwlock
#include "strategy_template.h"
