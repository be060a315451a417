/* qk_perf: the interface between the harness and its strategies.
 *
 * Laid out like Concurrency Kit's regressions: each strategy_*.c is a tiny adapter that only
 * says how to create its state, record, consume, refund and snapshot; strategy_template.h then
 * compiles the timed loops once per adapter, so an adapter's operations are inlined into its
 * loop and no strategy pays an indirect call per operation (quotakeeper still pays its real
 * call into the library, as a user would). */
#ifndef QK_PERF_HARNESS_H
#define QK_PERF_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Most services any workload uses: adapters may keep per-service arrays of this size on the
 * stack (the racy strategy copies the whole tracker out, as the spec's bug did). */
#define PERF_MAX_SERVICES 256

/* Each thread cycles through a pattern of services this long (a power of two, so the index is
 * a mask, not a division). */
#define PERF_PATTERN_LEN 16

/* Operations between two looks at the stop flag, and how often one operation is timed: one in
 * PERF_BATCH * PERF_SAMPLE_EVERY, so the two clock reads cost well under 1% of an operation. */
#define PERF_BATCH        8
#define PERF_SAMPLE_EVERY 128

/* Latency samples kept per thread; older ones are overwritten, which keeps the steady state. */
#define PERF_SAMPLE_CAP 4096

/* What a strategy's snapshot promises (its row in strategies.h says which). */
typedef enum {
    PERF_SNAPSHOT_CONSISTENT, /* a cut between operations: validated, must never be torn */
    PERF_SNAPSHOT_TORN_OK,    /* per-counter reads, no common instant: torn cuts are reported */
    PERF_SNAPSHOT_LOSSY       /* consistent copy of state that itself loses updates (racy) */
} perf_snapshot_kind;

typedef struct {
    uint32_t n_services;
    const char *const *names; /* for strategies that name services (quotakeeper) */
    const uint64_t *limits;   /* per service: a consume is granted while used < limit */
} perf_setup;

/* One worker's inputs and outputs. Aligned so that workers never share a line. */
typedef struct {
    _Alignas(128) uint32_t pattern[PERF_PATTERN_LEN];
    const atomic_bool *stop;
    uint64_t ops;              /* operations done (consume: attempts) */
    uint64_t granted, refused; /* consume workload */
    uint64_t start_ns;         /* CLOCK_MONOTONIC when the loop began */
    uint64_t cpu_ns;           /* this thread's CPU time in the loop: immune to time slicing */
    uint64_t *samples;         /* PERF_SAMPLE_CAP latencies in ns (clock cost included) */
    uint64_t n_samples;        /* samples taken; the last PERF_SAMPLE_CAP are kept */
} perf_thread;

/* An adapter: a strategy's operations, compiled by strategy_template.h. What the strategy is
 * called and what it promises are its row in strategies.h. */
typedef struct {
    void *(*create)(const perf_setup *setup);
    void (*destroy)(void *state);
    /* Single operations, for the validators (not timed). consume returns whether it granted. */
    void (*record)(void *state, uint32_t service);
    bool (*consume)(void *state, uint32_t service);
    void (*refund)(void *state, uint32_t service);
    /* Fills used[0..n_services-1]. */
    void (*snapshot)(void *state, uint64_t *used);
    /* The timed loops: run until *th->stop, cycling through th->pattern. */
    void (*record_loop)(void *state, perf_thread *th);
    void (*consume_loop)(void *state, perf_thread *th); /* consume; refund what was granted */
    void (*grant_loop)(void *state, perf_thread *th);   /* consume, keeping every grant */
    /* Exchanges with the shared store since create (the store strategies); NULL for the rest. */
    uint64_t (*store_ops)(void *state);
} perf_adapter;

static inline uint64_t perf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t perf_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The clock quotakeeper reads by default, for the strategies that model the spec's tracker
 * (its record_call stamps updated_at), so that every tracker pays the same clock. */
static inline int64_t perf_coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void perf_sample(perf_thread *th, uint64_t ns)
{
    th->samples[th->n_samples++ % PERF_SAMPLE_CAP] = ns;
}

/* How an adapter around a tracker defines its operations: out of line, as a library call, so
 * that neither side of a comparison with quotakeeper is inlined into the timed loop. */
#define QK_PERF_TRACKER_CALL __attribute__((noinline)) static

/* Aborts with a message: adapters have no error path worth timing. */
_Noreturn void perf_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Cache-line-aligned allocation, zeroed; aborts on failure. */
void *perf_alloc(size_t size);

#endif
