/* global: the spec's chosen fix. One mutex around the whole read-modify-write of the one
 * tracker object, snapshots included. */
#include <pthread.h>
#include <stdlib.h>

#include "spec_tracker.h"

typedef struct {
    pthread_mutex_t lock;
    spec_tracker tracker;
} global_state;

static void *adapter_create(const perf_setup *setup)
{
    global_state *st = perf_alloc(sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    spec_init(&st->tracker, setup);
    return st;
}

static void adapter_destroy(void *state)
{
    global_state *st = state;
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* Out of line, like every tracker here: the spec's tracker is a module its callers call, as
 * quotakeeper is, so neither side of a comparison is inlined into the timed loop. */
QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    global_state *st = state;
    pthread_mutex_lock(&st->lock);
    spec_record(&st->tracker, s, 1);
    pthread_mutex_unlock(&st->lock);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    global_state *st = state;
    pthread_mutex_lock(&st->lock);
    const bool granted = spec_can_consume(&st->tracker, s);
    if (granted)
        spec_record(&st->tracker, s, 1);
    pthread_mutex_unlock(&st->lock);
    return granted;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    global_state *st = state;
    pthread_mutex_lock(&st->lock);
    spec_record(&st->tracker, s, -1);
    pthread_mutex_unlock(&st->lock);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    global_state *st = state;
    pthread_mutex_lock(&st->lock);
    spec_copy_used(&st->tracker, used);
    pthread_mutex_unlock(&st->lock);
}

#define ADAPTER_SYMBOL perf_adapter_global
#include "strategy_template.h"
