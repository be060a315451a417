/* qk_perf: times quotakeeper against the spec's locking and its alternatives.
 *
 * Every strategy first passes exact validators (totals, limit, consistent cut where it claims
 * one); only then is it timed, and every timed run checks its counts again. CSV rows go to
 * stdout, one per run, flushed as they come; progress goes to stderr. `qk_perf --help`. */
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "harness.h"
#include "perf_build_info.h"

/* ---- options ---------------------------------------------------------------------------- */

typedef enum { W_DISJOINT, W_HOT, W_MIX, W_CONSUME, W_SNAPSHOT, W_OVERSUB, W_COUNT } workload;
static const char *const workload_names[W_COUNT] = {"disjoint", "hot",      "mix",
                                                    "consume",  "snapshot", "oversubscribed"};

#define MAX_LIST       32
#define RATE_MAX       (-1) /* snapshots back to back */
#define MAX_THREADS    1024
#define MAX_STRATEGIES 8

typedef struct {
    unsigned v[MAX_LIST];
    unsigned n;
} uint_list;

typedef struct {
    double duration_s;
    unsigned reps;
    unsigned figure_reps; /* repetitions of the paired figure runs */
    uint_list threads, services, writers;
    int rates[MAX_LIST];
    unsigned n_rates;
    unsigned oversub_threads;
    bool workload_on[W_COUNT];
    const perf_strategy *strategies[MAX_STRATEGIES];
    unsigned n_strategies;
    unsigned validate_threads;
    unsigned validate_ops; /* per validating thread */
    bool validate_only;
} options;

static const perf_strategy *const all_strategies[] = {
    &perf_strategy_racy,    &perf_strategy_global,         &perf_strategy_rwlock,
    &perf_strategy_sharded, &perf_strategy_sharded_shared, &perf_strategy_floor,
    &perf_strategy_atomic,
#ifdef QK_PERF_HAVE_CK
    &perf_strategy_ck,
#endif
};
#define N_ALL_STRATEGIES (sizeof all_strategies / sizeof all_strategies[0])

static unsigned n_cores;
static uint64_t clock_overhead_ns; /* cost of one perf_now_ns pair, taken off every sample */
static int exit_status = 0;

_Noreturn void perf_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qk_perf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

void *perf_alloc(size_t size)
{
    const size_t rounded = (size + 127) / 128 * 128;
    void *p = aligned_alloc(128, rounded ? rounded : 128);
    if (p == NULL)
        perf_die("out of memory (%zu bytes)", size);
    memset(p, 0, rounded);
    return p;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: qk_perf [preset] [options] > results.csv\n"
        "presets (later options override):\n"
        "  --full          the default: figures 0.2 s x 11, every workload 0.2 s x 3\n"
        "  --quick         0.05 s x 2 repetitions, threads 1,2,4,64,200\n"
        "  --smoke         0.02 s x 1, small validators: checks, not numbers\n"
        "options:\n"
        "  --duration S    seconds per timed run\n"
        "  --reps N        repetitions of every run (strategies interleaved; take medians)\n"
        "  --figure-reps N repetitions of the figure runs, which run back to back (0: none)\n"
        "  --threads L     thread counts, e.g. 1,2,4,8,64,200 (default: 1,2,4..4x cores,64,200)\n"
        "  --services L    service counts (default 3,64); hot and mix always use the spec's 3\n"
        "  --writers L     writer threads for the snapshot workload (default 1,cores)\n"
        "  --rates L       snapshots per second, max = back to back (default 0,10,1000,max)\n"
        "  --oversub N     threads of the oversubscribed workload (default 200)\n"
        "  --workloads L   of disjoint,hot,mix,consume,snapshot,oversubscribed, or none\n"
        "  --strategies L  of racy,global,rwlock,sharded,sharded-shared,floor,atomic,ck\n"
        "  --validate-threads N, --validate-ops N   validator size (default 4, 20000)\n"
        "  --validate-only run the validators and stop\n"
        "  --about         build and clock facts, as key: value lines\n"
        "  --list          strategies, one per line: name, snapshot kind, lock\n");
}

static void parse_uint_list(const char *arg, uint_list *out, const char *what)
{
    out->n = 0;
    char *copy = strdup(arg), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        const unsigned long v = strtoul(tok, &end, 10);
        if (*end != '\0' || v == 0 || v > 100000 || out->n == MAX_LIST)
            perf_die("bad %s list '%s'", what, arg);
        out->v[out->n++] = (unsigned)v;
    }
    free(copy);
    if (out->n == 0)
        perf_die("empty %s list", what);
}

static void parse_rates(const char *arg, options *o)
{
    o->n_rates = 0;
    char *copy = strdup(arg), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strcmp(tok, "max") == 0 ? RATE_MAX : strtol(tok, &end, 10);
        if ((v != RATE_MAX && (*end != '\0' || v < 0 || v > 1000000)) || o->n_rates == MAX_LIST)
            perf_die("bad rate list '%s'", arg);
        o->rates[o->n_rates++] = (int)v;
    }
    free(copy);
}

static void parse_names(const char *arg, options *o, bool workloads)
{
    if (workloads)
        memset(o->workload_on, 0, sizeof o->workload_on);
    else
        o->n_strategies = 0;
    char *copy = strdup(arg), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool found = workloads && strcmp(tok, "none") == 0; /* the figure runs only */
        if (workloads) {
            for (int w = 0; w < W_COUNT; w++)
                if (strcmp(tok, workload_names[w]) == 0)
                    o->workload_on[w] = found = true;
        } else {
            for (size_t i = 0; i < N_ALL_STRATEGIES; i++)
                if (strcmp(tok, all_strategies[i]->name) == 0 && o->n_strategies < MAX_STRATEGIES) {
                    o->strategies[o->n_strategies++] = all_strategies[i];
                    found = true;
                }
        }
        if (!found)
            perf_die("unknown %s '%s'%s", workloads ? "workload" : "strategy", tok,
                     !workloads && strcmp(tok, "ck") == 0 ? " (built without libck)" : "");
    }
    free(copy);
}

/* 1, 2, 4, ... up to 4x the cores, then 64 and 200: under, at and far over the cores. */
static void default_threads(uint_list *l)
{
    l->n = 0;
    for (unsigned t = 1; t <= 4 * n_cores && l->n < MAX_LIST - 2; t *= 2)
        l->v[l->n++] = t;
    if (l->v[l->n - 1] < 64)
        l->v[l->n++] = 64;
    l->v[l->n++] = 200;
}

static void preset(options *o, const char *name)
{
    o->oversub_threads = 200;
    o->validate_threads = 4;
    o->services = (uint_list){{3, 64}, 2};
    o->writers = (uint_list){{1, n_cores}, n_cores > 1 ? 2 : 1};
    parse_rates("0,10,1000,max", o);
    default_threads(&o->threads);
    if (strcmp(name, "full") == 0) {
        o->duration_s = 0.2;
        o->reps = 3;
        o->figure_reps = 11;
        o->validate_ops = 20000;
    } else if (strcmp(name, "quick") == 0) {
        o->duration_s = 0.05;
        o->reps = 2;
        o->figure_reps = 3;
        o->validate_ops = 5000;
        parse_uint_list("1,2,4,64,200", &o->threads, "thread");
    } else { /* smoke */
        o->duration_s = 0.02;
        o->reps = 1;
        o->figure_reps = 1;
        o->validate_ops = 2000;
        parse_uint_list("1,2,4", &o->threads, "thread");
        o->writers = (uint_list){{2}, 1};
    }
}

/* ---- build facts and clock calibration ------------------------------------------------- */

static uint64_t median_u64(uint64_t *v, size_t n);

static void *idle_thread(void *arg)
{
    return arg;
}

static double ns_per_call_coarse(unsigned n)
{
    volatile int64_t sink = 0;
    const uint64_t t0 = perf_now_ns();
    for (unsigned i = 0; i < n; i++)
        sink += perf_coarse_ms();
    (void)sink;
    return (double)(perf_now_ns() - t0) / n;
}

static double ns_per_mutex_round(unsigned n)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    volatile uint64_t count = 0;
    const uint64_t t0 = perf_now_ns();
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&m);
        count++;
        pthread_mutex_unlock(&m);
    }
    return (double)(perf_now_ns() - t0) / n;
}

/* The cost of the two clock reads around a timed operation, measured as the median of empty
 * pairs; every latency sample has it taken off. */
static void calibrate(void)
{
    enum { N = 20001 };
    static uint64_t d[N];
    for (int i = 0; i < N; i++) {
        const uint64_t t0 = perf_now_ns();
        d[i] = perf_now_ns() - t0;
    }
    clock_overhead_ns = median_u64(d, N);
}

static void print_about(void)
{
    /* glibc skips atomics until a thread exists; the harness always has threads. */
    pthread_t tid;
    pthread_create(&tid, NULL, idle_thread, NULL);
    pthread_join(tid, NULL);
    printf("quotakeeper_version: %s\n", qk_version_string());
    printf("compiler: %s (%s)\n", QK_PERF_COMPILER_ID, __VERSION__);
    printf("c_flags: %s\n", QK_PERF_C_FLAGS);
    printf("build_type: %s\n", QK_PERF_BUILD_TYPE);
    printf("link: %s\n", QK_PERF_LINK);
    printf("lock_checks: %s\n", QK_PERF_LOCK_CHECKS);
    printf("glibc_in_binary: %s\n", gnu_get_libc_version());
    printf("strategies:");
    for (size_t i = 0; i < N_ALL_STRATEGIES; i++)
        printf(" %s", all_strategies[i]->name);
    printf("\ncores_online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("clock_monotonic_pair_ns: %llu\n", (unsigned long long)clock_overhead_ns);
    printf("clock_realtime_coarse_ns: %.2f\n", ns_per_call_coarse(5000000));
    printf("mutex_lock_inc_unlock_ns: %.2f\n", ns_per_mutex_round(5000000));
}

static void print_list(void)
{
    static const char *const kinds[] = {"consistent", "not-consistent", "lossy"};
    for (size_t i = 0; i < N_ALL_STRATEGIES; i++)
        printf("%s,%s,%s\n", all_strategies[i]->name, kinds[all_strategies[i]->snapshot_kind],
               all_strategies[i]->lock);
}

/* ---- statistics -------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static uint64_t percentile(uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static uint64_t median_u64(uint64_t *v, size_t n)
{
    return percentile(v, n, 0.5);
}

/* ---- services ---------------------------------------------------------------------------- */

/* The spec's three services and their limits; larger counts get generic ones. */
typedef struct {
    perf_setup setup;
    char names[PERF_MAX_SERVICES][16];
    const char *name_ptrs[PERF_MAX_SERVICES];
    uint64_t limits[PERF_MAX_SERVICES];
} services;

static void make_services(services *sv, unsigned n)
{
    static const char *const spec_names[] = {"tiingo", "finnhub", "sendgrid"};
    static const uint64_t spec_limits[] = {500, 60, 100};
    if (n > PERF_MAX_SERVICES)
        perf_die("at most %d services", PERF_MAX_SERVICES);
    for (unsigned s = 0; s < n; s++) {
        if (n == 3) {
            snprintf(sv->names[s], sizeof sv->names[s], "%s", spec_names[s]);
            sv->limits[s] = spec_limits[s];
        } else {
            snprintf(sv->names[s], sizeof sv->names[s], "svc-%03u", s);
            sv->limits[s] = 1000;
        }
        sv->name_ptrs[s] = sv->names[s];
    }
    sv->setup = (perf_setup){n, sv->name_ptrs, sv->limits};
}

/* ---- CSV --------------------------------------------------------------------------------- */

typedef struct {
    const char *strategy, *workload;
    unsigned services, threads;
    int rate; /* snapshot workload only; 0 elsewhere */
    unsigned rep;
    uint64_t ops;
    double seconds;
    double cpu_ns_per_op;
    uint64_t p50_ns, p99_ns;
    uint64_t snaps, snap_p50_ns, snap_p99_ns;
    uint64_t lost, limit_violations, torn, refused;
    double cores_used; /* CPU time of the workers over the window: how many cores they got */
    const char *phase; /* "fig": the paired figure runs; "grid": every workload */
    const char *verdict;
} csv_row;

static void csv_header(void)
{
    puts("strategy,workload,services,threads,snap_rate,rep,ops,seconds,ops_per_s,ns_per_op,cpu_ns_"
         "per_op,"
         "p50_ns,p99_ns,snaps,snap_per_s,snap_p50_ns,snap_p99_ns,lost_updates,limit_violations,"
         "torn_snapshots,refused,cores_used,phase,verdict");
    fflush(stdout);
}

static void csv_print(const csv_row *r)
{
    const double ops_per_s = r->seconds > 0 ? (double)r->ops / r->seconds : 0;
    char rate[16];
    if (r->rate == RATE_MAX)
        snprintf(rate, sizeof rate, "max");
    else
        snprintf(rate, sizeof rate, "%d", r->rate);
    printf(
        "%s,%s,%u,%u,%s,%u,%llu,%.6f,%.0f,%.3f,%.3f,%llu,%llu,%llu,%.1f,%llu,%llu,%llu,%llu,%llu,"
        "%llu,%.2f,%s,%s\n",
        r->strategy, r->workload, r->services, r->threads, rate, r->rep, (unsigned long long)r->ops,
        r->seconds, ops_per_s, ops_per_s > 0 ? 1e9 / ops_per_s : 0, r->cpu_ns_per_op,
        (unsigned long long)r->p50_ns, (unsigned long long)r->p99_ns, (unsigned long long)r->snaps,
        r->seconds > 0 ? (double)r->snaps / r->seconds : 0, (unsigned long long)r->snap_p50_ns,
        (unsigned long long)r->snap_p99_ns, (unsigned long long)r->lost,
        (unsigned long long)r->limit_violations, (unsigned long long)r->torn,
        (unsigned long long)r->refused, r->cores_used, r->phase ? r->phase : "check", r->verdict);
    fflush(stdout);
}

/* An exact strategy must be exact; racy is expected to lose, and atomic to tear. */
static const char *verdict(const perf_strategy *st, uint64_t lost, uint64_t violations,
                           uint64_t torn)
{
    if (st->snapshot_kind == PERF_SNAPSHOT_LOSSY)
        return lost || violations || torn ? "lossy" : "ok";
    if (lost || violations)
        return "FAIL";
    if (torn)
        return st->snapshot_kind == PERF_SNAPSHOT_TORN_OK ? "torn" : "FAIL";
    return "ok";
}

/* ---- threads ----------------------------------------------------------------------------- */

typedef struct {
    const perf_strategy *strategy;
    void *state;
    perf_thread *th;
    bool consume;
    pthread_barrier_t *barrier;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    pthread_barrier_wait(a->barrier);
    if (a->consume)
        a->strategy->consume_loop(a->state, a->th);
    else
        a->strategy->record_loop(a->state, a->th);
    return NULL;
}

/* The monitor of the snapshot workload: snapshots at a fixed rate (or back to back), each
 * timed, each checked against the previous one (a count never goes down). */
typedef struct {
    const perf_strategy *strategy;
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
        m->strategy->snapshot(m->state, used);
        m->latency[m->taken++ % m->latency_cap] = perf_now_ns() - t0;
        for (uint32_t s = 0; s < m->n_services; s++) {
            m->torn += used[s] < prev[s];
            prev[s] = used[s];
        }
    }
    return NULL;
}

static pthread_attr_t small_stack;

static void spawn(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    const int rc = pthread_create(tid, &small_stack, fn, arg);
    if (rc != 0)
        perf_die("pthread_create: %s", strerror(rc));
}

/* ---- validators ---------------------------------------------------------------------------
 * Run through the adapters' single operations, before any timing. */

typedef struct {
    const perf_strategy *strategy;
    void *state;
    unsigned index, n_services, ops;
    pthread_barrier_t *barrier;
    uint64_t granted;
    /* cut check: writers go on until the monitor has its snapshots */
    const atomic_bool *stop;
    atomic_uint *started;
    uint64_t rounds;
} check_arg;

/* Totals: thread i's j-th record goes to service (i + j) mod n. */
static void *check_totals_worker(void *p)
{
    check_arg *a = p;
    pthread_barrier_wait(a->barrier);
    for (unsigned j = 0; j < a->ops; j++)
        a->strategy->record(a->state, (a->index + j) % a->n_services);
    return NULL;
}

/* Limit: every thread alone tries each service more often than its limit allows. */
static void *check_limit_worker(void *p)
{
    check_arg *a = p;
    pthread_barrier_wait(a->barrier);
    for (unsigned j = 0; j < a->ops; j++)
        a->granted += a->strategy->consume(a->state, (a->index + j) % a->n_services);
    return NULL;
}

/* Cut: every writer records services n-1, ..., 1, 0 in rounds, so at any instant the counts
 * never decrease with the index and span at most one per writer. A snapshot reads them in
 * ascending order; if it reads them at different instants, any writer that starts a round
 * meanwhile pushes the last count more than one per writer past the first. */
static void *check_cut_writer(void *p)
{
    check_arg *a = p;
    pthread_barrier_wait(a->barrier);
    do {
        for (unsigned s = a->n_services; s-- > 0;)
            a->strategy->record(a->state, s);
        if (a->rounds++ == 0)
            atomic_fetch_add(a->started, 1);
    } while (!atomic_load_explicit(a->stop, memory_order_relaxed));
    return NULL;
}

static bool validate(const options *o, const perf_strategy *st, const services *sv)
{
    const unsigned n = sv->setup.n_services, nt = o->validate_threads;
    pthread_t tid[64];
    check_arg args[64];
    pthread_barrier_t barrier;
    uint64_t used[PERF_MAX_SERVICES];
    bool ok = true;
    if (nt > 64)
        perf_die("at most 64 validator threads");

    /* Totals. */
    void *state = st->create(&sv->setup);
    pthread_barrier_init(&barrier, NULL, nt);
    for (unsigned i = 0; i < nt; i++) {
        args[i] = (check_arg){st, state, i, n, o->validate_ops, &barrier, 0, NULL, NULL, 0};
        spawn(&tid[i], check_totals_worker, &args[i]);
    }
    for (unsigned i = 0; i < nt; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    st->snapshot(state, used);
    uint64_t lost = 0;
    for (unsigned s = 0; s < n; s++) {
        uint64_t expected = 0;
        for (unsigned i = 0; i < nt; i++) /* records j with (i + j) % n == s */
            expected += (o->validate_ops + n - 1 - (s + n - i % n) % n) / n;
        lost += expected > used[s] ? expected - used[s] : used[s] - expected;
    }
    st->destroy(state);
    csv_row row = {.strategy = st->name,
                   .workload = "check-totals",
                   .services = n,
                   .threads = nt,
                   .ops = (uint64_t)nt * o->validate_ops,
                   .lost = lost,
                   .verdict = verdict(st, lost, 0, 0)};
    csv_print(&row);
    ok &= strcmp(row.verdict, "FAIL") != 0;

    /* Limit. */
    uint64_t max_limit = 0, sum_limits = 0;
    for (unsigned s = 0; s < n; s++) {
        max_limit = sv->limits[s] > max_limit ? sv->limits[s] : max_limit;
        sum_limits += sv->limits[s];
    }
    const unsigned attempts = (unsigned)(n * (max_limit + 1));
    state = st->create(&sv->setup);
    pthread_barrier_init(&barrier, NULL, nt);
    for (unsigned i = 0; i < nt; i++) {
        args[i] = (check_arg){st, state, i, n, attempts, &barrier, 0, NULL, NULL, 0};
        spawn(&tid[i], check_limit_worker, &args[i]);
    }
    uint64_t granted = 0;
    for (unsigned i = 0; i < nt; i++) {
        pthread_join(tid[i], NULL);
        granted += args[i].granted;
    }
    pthread_barrier_destroy(&barrier);
    st->snapshot(state, used);
    uint64_t wrong = 0;
    for (unsigned s = 0; s < n; s++)
        wrong += used[s] > sv->limits[s] ? used[s] - sv->limits[s] : sv->limits[s] - used[s];
    const uint64_t over = granted > sum_limits ? granted - sum_limits : 0;
    wrong += granted < sum_limits ? sum_limits - granted : 0;
    st->destroy(state);
    row = (csv_row){.strategy = st->name,
                    .workload = "check-limit",
                    .services = n,
                    .threads = nt,
                    .ops = (uint64_t)nt * attempts,
                    .lost = wrong,
                    .limit_violations = over,
                    .refused = (uint64_t)nt * attempts - granted,
                    .verdict = verdict(st, wrong, over, 0)};
    csv_print(&row);
    ok &= strcmp(row.verdict, "FAIL") != 0;

    /* Consistent cut: writers in rounds while one monitor takes its snapshots, all of them
     * after every writer has started. */
    const unsigned writers = nt < 2 ? 2 : nt, wanted = o->validate_ops / 4 + 1;
    atomic_bool stop = false;
    atomic_uint started = 0;
    state = st->create(&sv->setup);
    pthread_barrier_init(&barrier, NULL, writers + 1);
    for (unsigned i = 0; i < writers; i++) {
        args[i] = (check_arg){st, state, i, n, 0, &barrier, 0, &stop, &started, 0};
        spawn(&tid[i], check_cut_writer, &args[i]);
    }
    pthread_barrier_wait(&barrier);
    while (atomic_load(&started) < writers)
        sched_yield();
    uint64_t torn = 0, prev[PERF_MAX_SERVICES] = {0};
    for (unsigned k = 0; k < wanted; k++) {
        st->snapshot(state, used);
        bool bad = used[n - 1] < used[0] || used[n - 1] - used[0] > writers;
        for (unsigned s = 0; s < n; s++) {
            bad |= (s + 1 < n && used[s + 1] < used[s]) || used[s] < prev[s];
            prev[s] = used[s];
        }
        torn += bad;
    }
    atomic_store(&stop, true);
    uint64_t rounds = 0;
    for (unsigned i = 0; i < writers; i++) {
        pthread_join(tid[i], NULL);
        rounds += args[i].rounds;
    }
    pthread_barrier_destroy(&barrier);
    st->snapshot(state, used);
    lost = 0;
    for (unsigned s = 0; s < n; s++)
        lost += rounds > used[s] ? rounds - used[s] : used[s] - rounds;
    st->destroy(state);
    row = (csv_row){.strategy = st->name,
                    .workload = "check-cut",
                    .services = n,
                    .threads = writers,
                    .ops = rounds * n,
                    .snaps = wanted,
                    .lost = lost,
                    .torn = torn,
                    .verdict = verdict(st, lost, 0, torn)};
    csv_print(&row);
    ok &= strcmp(row.verdict, "FAIL") != 0;

    fprintf(stderr, "validate %-8s services=%-3u %s\n", st->name, n, ok ? "passed" : "FAILED");
    return ok;
}

/* ---- timed runs -------------------------------------------------------------------------- */

typedef struct {
    workload w;
    unsigned services, threads;
    int rate;
} cell;

static perf_thread *threads_mem;
static uint64_t *samples_mem, *merged_samples;
static uint64_t *snap_latency;
enum { SNAP_LATENCY_CAP = 1 << 16 };

/* Which services thread i visits, PERF_PATTERN_LEN at a time. */
static void fill_pattern(const cell *c, unsigned i, uint32_t *pattern)
{
    /* The spec's production mix: every ticker costs one tiingo and one finnhub call, alerts
     * an occasional sendgrid mail (7:7:2), rotated per thread so they do not move in step. */
    static const uint32_t mix[PERF_PATTERN_LEN] = {0, 1, 0, 1, 0, 1, 2, 0, 1, 0, 1, 0, 1, 0, 1, 2};
    for (unsigned k = 0; k < PERF_PATTERN_LEN; k++) {
        switch (c->w) {
        case W_HOT:
            pattern[k] = 0;
            break;
        case W_MIX:
            pattern[k] = mix[(k + i) % PERF_PATTERN_LEN];
            break;
        case W_OVERSUB: /* the spec's test: half the threads on one service, half on another */
            pattern[k] = i % 2;
            break;
        default: /* disjoint, consume, snapshot writers: each thread its own service */
            pattern[k] = i % c->services;
            break;
        }
    }
}

static void run_one(const options *o, const perf_strategy *st, const cell *c, unsigned rep,
                    const char *phase)
{
    services sv;
    make_services(&sv, c->services);
    const unsigned n = c->services, nt = c->threads;
    const bool consume = c->w == W_CONSUME;
    const bool monitor = c->w == W_SNAPSHOT && c->rate != 0;
    void *state = st->create(&sv.setup);
    if (consume) /* start one below the limit: every consume is decided at the edge */
        for (unsigned s = 0; s < n; s++)
            for (uint64_t k = 1; k < sv.limits[s]; k++)
                st->record(state, s);

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
        args[i] = (worker_arg){st, state, th, consume, &barrier};
        spawn(&tid[i], worker_main, &args[i]);
    }
    monitor_arg mon = {st, state, n, c->rate, &stop, &barrier, snap_latency, SNAP_LATENCY_CAP,
                       0,  0};
    if (monitor)
        spawn(&tid[nt], monitor_main, &mon);
    /* Throughput counts over the window from the first thread's start (or main's, if main got
     * back first) to the stop signal. A thread scheduled late starts late, which is what
     * oversubscription costs; one that sees stop late adds at most a batch after it, so
     * stragglers at the end do not stretch the window. */
    pthread_barrier_wait(&barrier);
    uint64_t go = perf_now_ns();
    const struct timespec d = {(time_t)o->duration_s,
                               (long)((o->duration_s - (double)(time_t)o->duration_s) * 1e9)};
    nanosleep(&d, NULL);
    const uint64_t stopped = perf_now_ns();
    atomic_store(&stop, true);
    for (unsigned i = 0; i < nt + monitor; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);

    uint64_t ops = 0, refused = 0, cpu_ns = 0;
    size_t n_samples = 0;
    uint64_t expected[PERF_MAX_SERVICES] = {0};
    for (unsigned i = 0; i < nt; i++) {
        const perf_thread *th = &threads_mem[i];
        ops += th->ops;
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

    /* Exactness: records all counted; consumes all given back, never past the limit. */
    uint64_t used[PERF_MAX_SERVICES], lost = 0, violations = 0;
    st->snapshot(state, used);
    for (unsigned s = 0; s < n; s++) {
        const uint64_t want = consume ? sv.limits[s] - 1 : expected[s];
        lost += want > used[s] ? want - used[s] : used[s] - want;
        violations += consume && used[s] > sv.limits[s];
    }
    st->destroy(state);

    csv_row row = {.strategy = st->name,
                   .workload = workload_names[c->w],
                   .services = n,
                   .threads = nt,
                   .rate = c->w == W_SNAPSHOT ? c->rate : 0,
                   .rep = rep,
                   .ops = ops,
                   .seconds = (double)(stopped - go) / 1e9,
                   .cpu_ns_per_op = ops ? (double)cpu_ns / (double)ops : 0,
                   .snaps = mon.taken,
                   .lost = lost,
                   .limit_violations = violations,
                   .torn = mon.torn,
                   .refused = refused,
                   .cores_used = stopped > go ? (double)cpu_ns / (double)(stopped - go) : 0,
                   .phase = phase};
    row.p50_ns = percentile(merged_samples, n_samples, 0.50);
    row.p99_ns = percentile(merged_samples, n_samples, 0.99);
    const size_t kept = mon.taken < SNAP_LATENCY_CAP ? mon.taken : SNAP_LATENCY_CAP;
    row.snap_p50_ns = percentile(snap_latency, kept, 0.50);
    row.snap_p99_ns = percentile(snap_latency, kept, 0.99);
    row.verdict = verdict(st, lost, violations, mon.torn);
    if (strcmp(row.verdict, "FAIL") == 0) {
        fprintf(stderr, "qk_perf: %s lost %llu updates or broke a limit in %s\n", st->name,
                (unsigned long long)lost, workload_names[c->w]);
        exit_status = 1;
    }
    csv_print(&row);
}

/* The runs behind the figures, all in one repetition and repeated back to back, so that
 * each ratio, across strategies or across cells, pairs runs taken seconds apart. */
static void run_figures(const options *o, const perf_strategy *const *timed, unsigned n_timed)
{
    const perf_strategy *sharded = NULL, *global = NULL, *floor_ = NULL, *shared = NULL;
    for (unsigned i = 0; i < n_timed; i++) {
        if (strcmp(timed[i]->name, "sharded") == 0)
            sharded = timed[i];
        else if (strcmp(timed[i]->name, "sharded-shared") == 0)
            shared = timed[i];
        else if (strcmp(timed[i]->name, "global") == 0)
            global = timed[i];
        else if (strcmp(timed[i]->name, "floor") == 0)
            floor_ = timed[i];
    }
    if (sharded == NULL || global == NULL || floor_ == NULL || o->figure_reps == 0)
        return;
    unsigned writers = 0;
    for (unsigned i = 0; i < o->writers.n; i++)
        writers = o->writers.v[i] > writers ? o->writers.v[i] : writers;
    const struct {
        cell c;
        const perf_strategy *st[4];
    } runs[] = {
        /* NFR-001, the hot path, and the state file against private memory */
        {{W_DISJOINT, 3, 1, 0}, {sharded, global, floor_, shared}},
        {{W_DISJOINT, 3, 2, 0}, {sharded, global, shared, NULL}}, /* disjoint scaling */
        {{W_HOT, 3, n_cores, 0}, {sharded, global, NULL, NULL}},  /* hot service */
        {{W_SNAPSHOT, 3, writers, 0}, {sharded, NULL, NULL, NULL}},
        {{W_SNAPSHOT, 3, writers, 1000}, {sharded, NULL, NULL, NULL}},
        {{W_SNAPSHOT, 64, writers, 0}, {sharded, NULL, NULL, NULL}},
        {{W_SNAPSHOT, 64, writers, 1000}, {sharded, NULL, NULL, NULL}},
    };
    const size_t n_runs = sizeof runs / sizeof runs[0];
    for (unsigned rep = 0; rep < o->figure_reps; rep++) {
        fprintf(stderr, "[figures %u/%u]\n", rep + 1, o->figure_reps);
        for (size_t r = 0; r < n_runs; r++) {
            unsigned n = 0;
            while (n < 4 && runs[r].st[n] != NULL)
                n++;
            for (unsigned k = 0; k < n; k++) /* a different one first each time */
                run_one(o, runs[r].st[(k + rep) % n], &runs[r].c, rep + 1, "fig");
        }
    }
}

static size_t plan(const options *o, cell *cells, size_t cap)
{
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n == cap)                                                                              \
            perf_die("too many cells");                                                            \
        cells[n++] = (cell){__VA_ARGS__};                                                          \
    } while (0)
    for (int w = 0; w < W_COUNT; w++) {
        if (!o->workload_on[w])
            continue;
        if (w == W_HOT || w == W_MIX) { /* one service or the spec's three: service count moot */
            for (unsigned t = 0; t < o->threads.n; t++)
                ADD((workload)w, 3, o->threads.v[t], 0);
            continue;
        }
        for (unsigned s = 0; s < o->services.n; s++) {
            const unsigned ns = o->services.v[s];
            if (w == W_OVERSUB) {
                ADD(W_OVERSUB, ns < 2 ? 2 : ns, o->oversub_threads, 0);
            } else if (w == W_SNAPSHOT) {
                for (unsigned t = 0; t < o->writers.n; t++)
                    for (unsigned r = 0; r < o->n_rates; r++)
                        ADD(W_SNAPSHOT, ns, o->writers.v[t], o->rates[r]);
            } else {
                for (unsigned t = 0; t < o->threads.n; t++)
                    ADD((workload)w, ns, o->threads.v[t], 0);
            }
        }
    }
#undef ADD
    return n;
}

int main(int argc, char **argv)
{
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    n_cores = cores > 0 ? (unsigned)cores : 1;
    options o = {0};
    preset(&o, "full");
    for (int w = 0; w < W_COUNT; w++)
        o.workload_on[w] = true;
    for (size_t i = 0; i < N_ALL_STRATEGIES; i++)
        o.strategies[o.n_strategies++] = all_strategies[i];
    calibrate();

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE() (v ? (i++, v) : (perf_die("%s needs a value", a), ""))
        if (strcmp(a, "--full") == 0 || strcmp(a, "--quick") == 0 || strcmp(a, "--smoke") == 0)
            preset(&o, a + 2);
        else if (strcmp(a, "--duration") == 0)
            o.duration_s = atof(VALUE());
        else if (strcmp(a, "--reps") == 0)
            o.reps = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--figure-reps") == 0)
            o.figure_reps = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--threads") == 0)
            parse_uint_list(VALUE(), &o.threads, "thread");
        else if (strcmp(a, "--services") == 0)
            parse_uint_list(VALUE(), &o.services, "service");
        else if (strcmp(a, "--writers") == 0)
            parse_uint_list(VALUE(), &o.writers, "writer");
        else if (strcmp(a, "--rates") == 0)
            parse_rates(VALUE(), &o);
        else if (strcmp(a, "--oversub") == 0)
            o.oversub_threads = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--workloads") == 0)
            parse_names(VALUE(), &o, true);
        else if (strcmp(a, "--strategies") == 0)
            parse_names(VALUE(), &o, false);
        else if (strcmp(a, "--validate-threads") == 0)
            o.validate_threads = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--validate-ops") == 0)
            o.validate_ops = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--validate-only") == 0)
            o.validate_only = true;
        else if (strcmp(a, "--about") == 0)
            return print_about(), 0;
        else if (strcmp(a, "--list") == 0)
            return print_list(), 0;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout), 0;
        else
            return usage(stderr), 2;
#undef VALUE
    }
    if (o.duration_s <= 0 || o.reps == 0 || o.validate_threads == 0 || o.validate_ops == 0 ||
        o.oversub_threads == 0)
        perf_die("duration, reps, oversub and validator sizes must be positive");

    pthread_attr_init(&small_stack);
    pthread_attr_setstacksize(&small_stack, 256 * 1024);

    csv_header();
    /* Validators first: a strategy that fails one is not timed. */
    const perf_strategy *timed[MAX_STRATEGIES];
    unsigned n_timed = 0;
    for (unsigned i = 0; i < o.n_strategies; i++) {
        bool ok = true;
        for (unsigned s = 0; s < o.services.n; s++) {
            services sv;
            make_services(&sv, o.services.v[s]);
            ok &= validate(&o, o.strategies[i], &sv);
        }
        if (ok)
            timed[n_timed++] = o.strategies[i];
        else
            exit_status = 1;
    }
    if (o.validate_only)
        return exit_status;

    unsigned max_threads = o.oversub_threads;
    for (unsigned i = 0; i < o.threads.n; i++)
        max_threads = o.threads.v[i] > max_threads ? o.threads.v[i] : max_threads;
    for (unsigned i = 0; i < o.writers.n; i++)
        max_threads = o.writers.v[i] > max_threads ? o.writers.v[i] : max_threads;
    if (max_threads > MAX_THREADS)
        perf_die("at most %d threads", MAX_THREADS);
    threads_mem = perf_alloc(max_threads * sizeof *threads_mem);
    samples_mem = perf_alloc((size_t)max_threads * PERF_SAMPLE_CAP * sizeof *samples_mem);
    merged_samples = perf_alloc((size_t)max_threads * PERF_SAMPLE_CAP * sizeof *merged_samples);
    snap_latency = perf_alloc(SNAP_LATENCY_CAP * sizeof *snap_latency);

    run_figures(&o, timed, n_timed);

    static cell cells[4096];
    const size_t n_cells = plan(&o, cells, sizeof cells / sizeof cells[0]);
    const uint64_t t_start = perf_now_ns();
    for (size_t c = 0; c < n_cells; c++) {
        const cell *cl = &cells[c];
        fprintf(stderr, "[%zu/%zu %.0fs] %s services=%u threads=%u", c + 1, n_cells,
                (double)(perf_now_ns() - t_start) / 1e9, workload_names[cl->w], cl->services,
                cl->threads);
        if (cl->w == W_SNAPSHOT && cl->rate == RATE_MAX)
            fprintf(stderr, " rate=max");
        else if (cl->w == W_SNAPSHOT)
            fprintf(stderr, " rate=%d", cl->rate);
        fputc('\n', stderr);
        /* Strategies interleaved within each repetition, starting one further on each time,
         * so that a slow spell on a shared machine hits them all alike. */
        for (unsigned rep = 0; rep < o.reps; rep++)
            for (unsigned k = 0; k < n_timed; k++)
                run_one(&o, timed[(k + rep) % n_timed], cl, rep + 1, "grid");
    }
    fprintf(stderr, "qk_perf: done in %.0f s%s\n", (double)(perf_now_ns() - t_start) / 1e9,
            exit_status ? ", with failures" : "");
    return exit_status;
}
