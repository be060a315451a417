/* global-slot: the spec's fix doing quotakeeper's work. One mutex around every update and
 * snapshot, as `global`, but the update under it is quotakeeper's own slot update
 * (qk__slot_apply: windows, rollover, levels, overflow) on quotakeeper's slots, inside the same
 * shell as qk_record's (below), so that the one difference from `sharded` is where the lock
 * lives, which is what NFR-001 compares. Reaches the library's internals (src/, linked from
 * the static library); one window per service, QK_FOREVER, no events, as `sharded`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "slot.h"
#include "tracker.h" /* qk__system_clock_ms: the clock qk_record reads */

typedef struct {
    _Atomic uint32_t n_services; /* as the region's header: read with acquire at every call */
} global_slot_header;

typedef struct {
    pthread_mutex_t lock; /* the one lock; the slots' own mutexes are never used */
    unsigned mode;        /* 0: a private tracker's one test */
    int64_t (*clock)(void *ctx);
    qk_event_fn on_event; /* NULL, as `sharded`'s */
    global_slot_header *hdr;
    qk_slot *slots;
    char (*names)[QK_NAME_MAX];
} global_slot_state;

static void *adapter_create(const perf_setup *setup)
{
    global_slot_state *st = perf_alloc(sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    st->clock = qk__system_clock_ms;
    st->hdr = perf_alloc(sizeof *st->hdr);
    atomic_store(&st->hdr->n_services, setup->n_services);
    st->slots = perf_alloc(setup->n_services * sizeof *st->slots);
    st->names = perf_alloc(setup->n_services * sizeof *st->names);
    qk_event_sink no_events = {NULL, 0, 0};
    const int64_t now = qk__system_clock_ms(NULL);
    for (uint32_t s = 0; s < setup->n_services; s++) {
        const qk_service_def def = {.name = setup->names[s],
                                    .windows = {{QK_FOREVER, setup->limits[s]}}};
        qk__slot_configure(&st->slots[s], NULL, s, &def, 1, NULL, now, &no_events);
        strncpy(st->names[s], setup->names[s], QK_NAME_MAX - 1);
    }
    return st;
}

static void adapter_destroy(void *state)
{
    global_slot_state *st = state;
    pthread_mutex_destroy(&st->lock);
    free(st->names);
    free(st->slots);
    free(st->hdr);
    free(st);
}

/* qk_record's path (src/tracker.c: the public function tests the tracker and its mode and jumps
 * to an out-of-line path, which checks n and the service against the published count, reads
 * the built-in clock under the lock, sets up an event buffer when a callback is set, copies the
 * usage out when asked for and delivers events after the unlock), with the slot lock replaced
 * by the global one. Kept in step with tracker.c by hand. */
static inline __attribute__((always_inline)) int apply(global_slot_state *st, uint32_t s,
                                                       qk_op_kind kind, uint64_t n, qk_usage *out)
{
    if (n == 0)
        return QK_EINVAL;
    if (s >= atomic_load_explicit(&st->hdr->n_services, memory_order_acquire))
        perf_die("service %u of %u", s, atomic_load(&st->hdr->n_services));
    const int builtin = st->clock == qk__system_clock_ms;
    int64_t now = builtin ? 0 : st->clock(NULL);
    qk_event ev[QK_EVENTS_PER_SLOT_OP];
    qk_event_sink sink = {st->on_event ? ev : NULL, 0, 0};
    int tripped = -1;
    if (pthread_mutex_lock(&st->lock) != 0)
        perf_die("global-slot: lock failed");
    if (builtin)
        now = qk__system_clock_ms(NULL);
    const qk_op op = {kind, n, 0, 0};
    const int rc = qk__slot_apply(&st->slots[s], NULL, s, &op, now, &sink, &tripped);
    const int answered = rc == QK_OK || rc == QK_ELIMIT;
    if (out != NULL && answered)
        qk__slot_usage(&st->slots[s], s, tripped, out);
    pthread_mutex_unlock(&st->lock);
    if (out != NULL && answered)
        memcpy(out->name, st->names[s], QK_NAME_MAX);
    if (sink.n > 0)
        perf_die("global-slot: events without a callback");
    return rc;
}

/* Two out-of-line functions per operation, as qk_record and qk_try_consume are: the public
 * function's test and jump, then its private path. noipa: the path must not learn n (a
 * constant here, the caller's argument in the library). */
#define GLOBAL_SLOT_CALL(name, kind)                                                               \
    __attribute__((noipa)) static int name##_private(global_slot_state *st, uint32_t s,            \
                                                     uint64_t n, qk_usage *out)                    \
    {                                                                                              \
        return apply(st, s, kind, n, out);                                                         \
    }                                                                                              \
    __attribute__((noinline)) static int name##_call(global_slot_state *st, uint32_t s)            \
    {                                                                                              \
        if (st == NULL)                                                                            \
            return QK_EINVAL;                                                                      \
        if (__builtin_expect(st->mode != 0, 0))                                                    \
            perf_die("global-slot is a private tracker");                                          \
        return name##_private(st, s, 1, NULL);                                                     \
    }
GLOBAL_SLOT_CALL(record, QK_OP_RECORD)
GLOBAL_SLOT_CALL(consume, QK_OP_CONSUME)
GLOBAL_SLOT_CALL(refund, QK_OP_REFUND)
#undef GLOBAL_SLOT_CALL
#include "call_ops.h"

/* Every slot rolled and read under the one lock, as qk_snapshot does under all of its. */
static void adapter_snapshot(void *state, uint64_t *used)
{
    global_slot_state *st = state;
    const uint32_t n = atomic_load(&st->hdr->n_services);
    const int64_t now = qk__system_clock_ms(NULL);
    const qk_op peek = {QK_OP_PEEK, 0, 0, 0};
    qk_event_sink no_events = {NULL, 0, 0};
    int tripped = -1;
    pthread_mutex_lock(&st->lock);
    for (uint32_t s = 0; s < n; s++) {
        qk__slot_apply(&st->slots[s], NULL, s, &peek, now, &no_events, &tripped);
        used[s] = st->slots[s].w[0].used;
    }
    pthread_mutex_unlock(&st->lock);
}

#define ADAPTER_SYMBOL perf_adapter_global_slot
#include "strategy_template.h"
