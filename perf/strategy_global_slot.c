/* global-slot: the spec's fix doing quotakeeper's work. One mutex around every update and
 * snapshot, as `global`, but the update under it is quotakeeper's own slot update
 * (qk__slot_apply: windows, rollover, levels, overflow) on quotakeeper's slots, with the clock
 * read before the lock and the service checked, as qk_record does. So the one difference from
 * `sharded` is where the lock lives, which is what NFR-001 compares. Reaches the library's
 * internals (src/, linked from the static library); one window per service, QK_FOREVER, no
 * events, as `sharded`. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "slot.h"
#include "tracker.h" /* qk__system_clock_ms: the clock qk_record reads */

typedef struct {
    pthread_mutex_t lock; /* the one lock; the slots' own mutexes are never used */
    uint32_t n;
    qk_slot *slots;
} global_slot_state;

static void *adapter_create(const perf_setup *setup)
{
    global_slot_state *st = perf_alloc(sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    st->n = setup->n_services;
    st->slots = perf_alloc(st->n * sizeof *st->slots);
    qk_event_sink no_events = {NULL, 0};
    const int64_t now = qk__system_clock_ms(NULL);
    for (uint32_t s = 0; s < st->n; s++) {
        const qk_service_def def = {.name = setup->names[s],
                                    .windows = {{QK_FOREVER, setup->limits[s]}}};
        qk__slot_configure(&st->slots[s], s, &def, 1, now, &no_events);
    }
    return st;
}

static void adapter_destroy(void *state)
{
    global_slot_state *st = state;
    pthread_mutex_destroy(&st->lock);
    free(st->slots);
    free(st);
}

/* qk_record's path with the slot lock replaced by the global one. */
static inline __attribute__((always_inline)) int apply(global_slot_state *st, uint32_t s,
                                                       qk_op_kind kind)
{
    if (s >= st->n)
        perf_die("service %u of %u", s, st->n);
    const int64_t now = qk__system_clock_ms(NULL);
    const qk_op op = {kind, 1, 0, 0};
    qk_event_sink no_events = {NULL, 0};
    int tripped = -1;
    pthread_mutex_lock(&st->lock);
    const int rc = qk__slot_apply(&st->slots[s], s, &op, now, &no_events, &tripped);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    apply(state, s, QK_OP_RECORD);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    return apply(state, s, QK_OP_CONSUME) == QK_OK;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    apply(state, s, QK_OP_REFUND);
}

/* Every slot rolled and read under the one lock, as qk_snapshot does under all of its. */
static void adapter_snapshot(void *state, uint64_t *used)
{
    global_slot_state *st = state;
    const int64_t now = qk__system_clock_ms(NULL);
    const qk_op peek = {QK_OP_PEEK, 0, 0, 0};
    qk_event_sink no_events = {NULL, 0};
    int tripped = -1;
    pthread_mutex_lock(&st->lock);
    for (uint32_t s = 0; s < st->n; s++) {
        qk__slot_apply(&st->slots[s], s, &peek, now, &no_events, &tripped);
        used[s] = st->slots[s].w[0].used;
    }
    pthread_mutex_unlock(&st->lock);
}

#define ADAPTER_SYMBOL perf_adapter_global_slot
#include "strategy_template.h"
