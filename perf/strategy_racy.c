/* racy: the spec's bug shape. The tracker is copied out under the lock, changed outside it
 * and written back whole under the lock again, so a change any other thread made in between
 * is overwritten. Timed for reference and reported with its lost updates; never a winner. */
#include <pthread.h>
#include <stdlib.h>

#include "spec_tracker.h"

typedef struct {
    pthread_mutex_t lock;
    spec_tracker tracker;
} racy_state;

static void *adapter_create(const perf_setup *setup)
{
    racy_state *st = perf_alloc(sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    spec_init(&st->tracker, setup);
    return st;
}

static void adapter_destroy(void *state)
{
    racy_state *st = state;
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static inline void copy_out(racy_state *st, spec_tracker *copy)
{
    pthread_mutex_lock(&st->lock);
    spec_copy(copy, &st->tracker);
    pthread_mutex_unlock(&st->lock);
}

static inline void write_back(racy_state *st, const spec_tracker *copy)
{
    pthread_mutex_lock(&st->lock);
    spec_copy(&st->tracker, copy);
    pthread_mutex_unlock(&st->lock);
}

/* Out of line, like every tracker here: the spec's tracker is a module its callers call, as
 * quotakeeper is, so neither side of a comparison is inlined into the timed loop. */
QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    spec_tracker copy;
    copy_out(state, &copy);
    spec_record(&copy, s, 1);
    write_back(state, &copy);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    spec_tracker copy;
    copy_out(state, &copy);
    if (!spec_can_consume(&copy, s))
        return false;
    spec_record(&copy, s, 1);
    write_back(state, &copy);
    return true;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    spec_tracker copy;
    copy_out(state, &copy);
    spec_record(&copy, s, -1);
    write_back(state, &copy);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    racy_state *st = state;
    pthread_mutex_lock(&st->lock);
    spec_copy_used(&st->tracker, used);
    pthread_mutex_unlock(&st->lock);
}

#define ADAPTER_SYMBOL perf_adapter_racy
#include "strategy_template.h"
