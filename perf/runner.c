/* The timed runs (runner.h): workers, the snapshot monitor, and the count check after each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "runner.h"

#define MAX_THREADS 1024
enum { SNAP_LATENCY_CAP = 1 << 16 };

static uint64_t clock_overhead_ns; /* cost of one perf_now_ns pair, taken off every sample */
static unsigned capacity;          /* workers the buffers below hold */
static perf_thread *threads_mem;
static uint64_t *samples_mem, *merged_samples;
static uint64_t *snap_latency;

/* The cost of the two clock reads around a timed operation, measured as the median of empty
 * pairs; every latency sample has it taken off. */
uint64_t runner_calibrate(void)
{
    enum { N = 20001 };
    static uint64_t d[N];
    for (int i = 0; i < N; i++) {
        const uint64_t t0 = perf_now_ns();
        d[i] = perf_now_ns() - t0;
    }
    clock_overhead_ns = percentile(d, N, 0.5);
    return clock_overhead_ns;
}

void runner_init(unsigned max_threads)
{
    if (max_threads > MAX_THREADS)
        perf_die("at most %d threads", MAX_THREADS);
    capacity = max_threads;
    threads_mem = perf_alloc(max_threads * sizeof *threads_mem);
    samples_mem = perf_alloc((size_t)max_threads * PERF_SAMPLE_CAP * sizeof *samples_mem);
    merged_samples = perf_alloc((size_t)max_threads * PERF_SAMPLE_CAP * sizeof *merged_samples);
    snap_latency = perf_alloc(SNAP_LATENCY_CAP * sizeof *snap_latency);
}

static pthread_attr_t small_stack;
static pthread_once_t small_stack_once = PTHREAD_ONCE_INIT;

static void init_small_stack(void)
{
    pthread_attr_init(&small_stack);
    pthread_attr_setstacksize(&small_stack, 256 * 1024);
}

void spawn(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    pthread_once(&small_stack_once, init_small_stack);
    const int rc = pthread_create(tid, &small_stack, fn, arg);
    if (rc != 0)
        perf_die("pthread_create: %s", strerror(rc));
}

typedef struct {
    const perf_adapter *ops;
    void *state;
    perf_thread *th;
    workload w;
    pthread_barrier_t *barrier;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    pthread_barrier_wait(a->barrier);
    if (a->w == W_CONSUME)
        a->ops->consume_loop(a->state, a->th);
    else if (a->w == W_GRANT)
        a->ops->grant_loop(a->state, a->th);
    else
        a->ops->record_loop(a->state, a->th);
    return NULL;
}

/* The monitor of the snapshot workload: snapshots at a fixed rate (or back to back), each
 * timed, each checked against the previous one (a count never goes down). */
typedef struct {
    const perf_adapter *ops;
    void *state;
    uint32_t n_services;
    int rate;
    const atomic_bool *stop;
    pthread_barrier_t *barrier;
    uint64_t *latency; /* ring of latency_cap */
    size_t latency_cap;
    uint64_t taken, torn;
} monitor_arg;

static void *monitor_main(void *p)
{
    monitor_arg *m = p;
    uint64_t used[PERF_MAX_SERVICES], prev[PERF_MAX_SERVICES] = {0};
    pthread_barrier_wait(m->barrier);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    const long period_ns = m->rate > 0 ? 1000000000L / m->rate : 0;
    while (!atomic_load_explicit(m->stop, memory_order_relaxed)) {
        if (period_ns > 0) {
            next.tv_nsec += period_ns;
            while (next.tv_nsec >= 1000000000L) {
                next.tv_nsec -= 1000000000L;
                next.tv_sec++;
            }
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                ;
            if (atomic_load_explicit(m->stop, memory_order_relaxed))
                break;
        }
        const uint64_t t0 = perf_now_ns();
        m->ops->snapshot(m->state, used);
        m->latency[m->taken++ % m->latency_cap] = perf_now_ns() - t0;
        for (uint32_t s = 0; s < m->n_services; s++) {
            m->torn += used[s] < prev[s];
            prev[s] = used[s];
        }
    }
    return NULL;
}

void run_one(const perf_strategy *st, const cell *c, double duration_s, unsigned rep,
             const char *phase)
{
    services sv;
    make_services(&sv, c->services);
    if (c->w == W_GRANT)
        for (unsigned s = 0; s < c->services; s++)
            sv.limits[s] = PERF_GRANT_LIMIT;
    const perf_adapter *ops = st->ops;
    const unsigned n = c->services, nt = c->threads;
    const bool consume = c->w == W_CONSUME;
    const bool monitor = c->w == W_SNAPSHOT && c->rate != 0;
    if (nt > capacity)
        perf_die("%u threads, but runner_init was given %u", nt, capacity);
    void *state = ops->create(&sv.setup);
    if (consume) /* start one below the limit: every consume is decided at the edge */
        for (unsigned s = 0; s < n; s++)
            for (uint64_t k = 1; k < sv.limits[s]; k++)
                ops->record(state, s);

    atomic_bool stop = false;
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, nt + 1 + monitor);
    static pthread_t tid[MAX_THREADS + 1];
    static worker_arg args[MAX_THREADS];
    for (unsigned i = 0; i < nt; i++) {
        perf_thread *th = &threads_mem[i];
        memset(th, 0, sizeof *th);
        fill_pattern(c, i, th->pattern);
        th->stop = &stop;
        th->samples = samples_mem + (size_t)i * PERF_SAMPLE_CAP;
        args[i] = (worker_arg){ops, state, th, c->w, &barrier};
        spawn(&tid[i], worker_main, &args[i]);
    }
    monitor_arg mon = {ops, state, n, c->rate, &stop, &barrier, snap_latency, SNAP_LATENCY_CAP,
                       0,   0};
    if (monitor)
        spawn(&tid[nt], monitor_main, &mon);
    /* Throughput counts over the window from the first thread's start (or main's, if main got
     * back first) to the stop signal. A thread scheduled late starts late, which is what
     * oversubscription costs; one that sees stop late adds at most a batch after it, so
     * stragglers at the end do not stretch the window. */
    pthread_barrier_wait(&barrier);
    uint64_t go = perf_now_ns();
    const struct timespec d = {(time_t)duration_s,
                               (long)((duration_s - (double)(time_t)duration_s) * 1e9)};
    nanosleep(&d, NULL);
    const uint64_t stopped = perf_now_ns();
    atomic_store(&stop, true);
    for (unsigned i = 0; i < nt + monitor; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    const uint64_t store_ops = ops->store_ops ? ops->store_ops(state) : 0;

    uint64_t ops_done = 0, refused = 0, cpu_ns = 0;
    size_t n_samples = 0;
    uint64_t expected[PERF_MAX_SERVICES] = {0};
    for (unsigned i = 0; i < nt; i++) {
        const perf_thread *th = &threads_mem[i];
        ops_done += th->ops;
        refused += th->refused;
        cpu_ns += th->cpu_ns;
        if (th->ops > 0 && th->start_ns < go)
            go = th->start_ns;
        const uint64_t kept = th->n_samples < PERF_SAMPLE_CAP ? th->n_samples : PERF_SAMPLE_CAP;
        for (uint64_t k = 0; k < kept; k++) {
            const uint64_t ns = th->samples[k];
            merged_samples[n_samples++] = ns > clock_overhead_ns ? ns - clock_overhead_ns : 0;
        }
        for (unsigned k = 0; k < PERF_PATTERN_LEN; k++) /* op j went to pattern[j % LEN] */
            expected[th->pattern[k]] +=
                th->ops / PERF_PATTERN_LEN + (k < th->ops % PERF_PATTERN_LEN);
    }

    /* Exactness: records and grants all counted; consumes all given back, never past the
     * limit; under the grant workload's limit, nothing refused. */
    uint64_t used[PERF_MAX_SERVICES], lost = 0, violations = 0;
    ops->snapshot(state, used);
    for (unsigned s = 0; s < n; s++) {
        const uint64_t want = consume ? sv.limits[s] - 1 : expected[s];
        lost += want > used[s] ? want - used[s] : used[s] - want;
        violations += consume && used[s] > sv.limits[s];
    }
    if (c->w == W_GRANT)
        lost += refused;
    ops->destroy(state);

    perf_result row = {.strategy = st,
                       .workload = workload_names[c->w],
                       .cell = *c,
                       .rep = rep,
                       .ops = ops_done,
                       .seconds = (double)(stopped - go) / 1e9,
                       .cpu_ns_per_op = ops_done ? (double)cpu_ns / (double)ops_done : 0,
                       .snaps = mon.taken,
                       .lost = lost,
                       .limit_violations = violations,
                       .torn = mon.torn,
                       .refused = refused,
                       .store_ops = store_ops,
                       .cores_used = stopped > go ? (double)cpu_ns / (double)(stopped - go) : 0,
                       .phase = phase};
    if (c->w != W_SNAPSHOT)
        row.cell.rate = 0;
    row.p50_ns = percentile(merged_samples, n_samples, 0.50);
    row.p99_ns = percentile(merged_samples, n_samples, 0.99);
    const size_t kept = mon.taken < SNAP_LATENCY_CAP ? mon.taken : SNAP_LATENCY_CAP;
    row.snap_p50_ns = percentile(snap_latency, kept, 0.50);
    row.snap_p99_ns = percentile(snap_latency, kept, 0.99);
    row.verdict = verdict(st, lost, violations, mon.torn);
    if (strcmp(row.verdict, "FAIL") == 0)
        fprintf(stderr, "qk_perf: %s lost %llu updates or broke a limit in %s\n", st->name,
                (unsigned long long)lost, workload_names[c->w]);
    results_add(&row);
}
