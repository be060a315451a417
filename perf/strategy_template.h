/* The timed loops, compiled once per strategy (included at the end of each strategy_*.c).
 *
 * The adapter defines, before including this file:
 *   static void *adapter_create(const perf_setup *);     static void adapter_destroy(void *);
 *   static inline void adapter_record(void *, uint32_t);
 *   static inline bool adapter_consume(void *, uint32_t);
 *   static inline void adapter_refund(void *, uint32_t);
 *   static void adapter_snapshot(void *, uint64_t *used);
 * and ADAPTER_SYMBOL, perf_adapter_<id> for the strategy's row X(<id>, ...) in strategies.h.
 * An adapter that talks to a store also defines ADAPTER_STORE_OPS and
 *   static uint64_t adapter_store_ops(void *);   (exchanges with the store since create)
 *
 * Every loop has the same shape, so strategies differ only in their operations: look at the
 * stop flag once per PERF_BATCH operations, time one operation in PERF_SAMPLE_EVERY batches. */
#include "harness.h"

static void record_loop(void *state, perf_thread *th)
{
    const uint32_t *pattern = th->pattern;
    uint64_t k = 0, batches = 0;
    const uint64_t cpu0 = perf_thread_cpu_ns();
    th->start_ns = perf_now_ns();
    while (!atomic_load_explicit(th->stop, memory_order_relaxed)) {
        if (batches++ % PERF_SAMPLE_EVERY == 0) {
            const uint64_t t0 = perf_now_ns();
            adapter_record(state, pattern[k++ % PERF_PATTERN_LEN]);
            perf_sample(th, perf_now_ns() - t0);
        } else {
            adapter_record(state, pattern[k++ % PERF_PATTERN_LEN]);
        }
        for (int j = 1; j < PERF_BATCH; j++)
            adapter_record(state, pattern[k++ % PERF_PATTERN_LEN]);
    }
    th->cpu_ns = perf_thread_cpu_ns() - cpu0;
    th->ops = k;
}

/* One attempt: consume, and give back what was granted so the count stays at the limit's
 * edge, where consumes are decided. */
static inline bool consume_attempt(void *state, uint32_t service)
{
    if (!adapter_consume(state, service))
        return false;
    adapter_refund(state, service);
    return true;
}

static void consume_loop(void *state, perf_thread *th)
{
    const uint32_t *pattern = th->pattern;
    uint64_t k = 0, batches = 0, granted = 0;
    const uint64_t cpu0 = perf_thread_cpu_ns();
    th->start_ns = perf_now_ns();
    while (!atomic_load_explicit(th->stop, memory_order_relaxed)) {
        if (batches++ % PERF_SAMPLE_EVERY == 0) {
            const uint64_t t0 = perf_now_ns();
            granted += consume_attempt(state, pattern[k++ % PERF_PATTERN_LEN]);
            perf_sample(th, perf_now_ns() - t0);
        } else {
            granted += consume_attempt(state, pattern[k++ % PERF_PATTERN_LEN]);
        }
        for (int j = 1; j < PERF_BATCH; j++)
            granted += consume_attempt(state, pattern[k++ % PERF_PATTERN_LEN]);
    }
    th->cpu_ns = perf_thread_cpu_ns() - cpu0;
    th->ops = k;
    th->granted = granted;
    th->refused = k - granted;
}

/* The grant workload: consume under a limit no run reaches, keeping every grant, as a fleet's
 * hosts do far from their limits. */
static void grant_loop(void *state, perf_thread *th)
{
    const uint32_t *pattern = th->pattern;
    uint64_t k = 0, batches = 0, granted = 0;
    const uint64_t cpu0 = perf_thread_cpu_ns();
    th->start_ns = perf_now_ns();
    while (!atomic_load_explicit(th->stop, memory_order_relaxed)) {
        if (batches++ % PERF_SAMPLE_EVERY == 0) {
            const uint64_t t0 = perf_now_ns();
            granted += adapter_consume(state, pattern[k++ % PERF_PATTERN_LEN]);
            perf_sample(th, perf_now_ns() - t0);
        } else {
            granted += adapter_consume(state, pattern[k++ % PERF_PATTERN_LEN]);
        }
        for (int j = 1; j < PERF_BATCH; j++)
            granted += adapter_consume(state, pattern[k++ % PERF_PATTERN_LEN]);
    }
    th->cpu_ns = perf_thread_cpu_ns() - cpu0;
    th->ops = k;
    th->granted = granted;
    th->refused = k - granted;
}

static void record_one(void *state, uint32_t service)
{
    adapter_record(state, service);
}

static bool consume_one(void *state, uint32_t service)
{
    return adapter_consume(state, service);
}

static void refund_one(void *state, uint32_t service)
{
    adapter_refund(state, service);
}

const perf_adapter ADAPTER_SYMBOL = {
    .create = adapter_create,
    .destroy = adapter_destroy,
    .record = record_one,
    .consume = consume_one,
    .refund = refund_one,
    .snapshot = adapter_snapshot,
    .record_loop = record_loop,
    .consume_loop = consume_loop,
    .grant_loop = grant_loop,
#ifdef ADAPTER_STORE_OPS
    .store_ops = adapter_store_ops,
#endif
};
