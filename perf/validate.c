/* The validators (validate.h): exact checks through each adapter's single operations. */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "results.h"
#include "runner.h"
#include "validate.h"

typedef struct {
    const perf_adapter *adapter;
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
        a->adapter->record(a->state, (a->index + j) % a->n_services);
    return NULL;
}

/* Limit: every thread alone tries each service more often than its limit allows. */
static void *check_limit_worker(void *p)
{
    check_arg *a = p;
    pthread_barrier_wait(a->barrier);
    for (unsigned j = 0; j < a->ops; j++)
        a->granted += a->adapter->consume(a->state, (a->index + j) % a->n_services);
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
            a->adapter->record(a->state, s);
        if (a->rounds++ == 0)
            atomic_fetch_add(a->started, 1);
    } while (!atomic_load_explicit(a->stop, memory_order_relaxed));
    return NULL;
}

bool validate(const perf_strategy *st, const services *sv, unsigned nt, unsigned n_ops)
{
    const perf_adapter *ops = st->ops;
    const unsigned n = sv->setup.n_services;
    pthread_t tid[64];
    check_arg args[64];
    pthread_barrier_t barrier;
    uint64_t used[PERF_MAX_SERVICES];
    bool ok = true;
    if (nt > 64)
        perf_die("at most 64 validator threads");

    /* Totals. */
    void *state = ops->create(&sv->setup);
    pthread_barrier_init(&barrier, NULL, nt);
    for (unsigned i = 0; i < nt; i++) {
        args[i] = (check_arg){ops, state, i, n, n_ops, &barrier, 0, NULL, NULL, 0};
        spawn(&tid[i], check_totals_worker, &args[i]);
    }
    for (unsigned i = 0; i < nt; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    ops->snapshot(state, used);
    uint64_t lost = 0;
    for (unsigned s = 0; s < n; s++) {
        uint64_t expected = 0;
        for (unsigned i = 0; i < nt; i++) /* records j with (i + j) % n == s */
            expected += (n_ops + n - 1 - (s + n - i % n) % n) / n;
        lost += expected > used[s] ? expected - used[s] : used[s] - expected;
    }
    ops->destroy(state);
    perf_result row = {.strategy = st,
                       .workload = "check-totals",
                       .cell = {.services = n, .threads = nt},
                       .phase = "check",
                       .ops = (uint64_t)nt * n_ops,
                       .lost = lost,
                       .verdict = verdict(st, lost, 0, 0)};
    results_add(&row);
    ok &= strcmp(row.verdict, "FAIL") != 0;

    /* Limit. */
    uint64_t max_limit = 0, sum_limits = 0;
    for (unsigned s = 0; s < n; s++) {
        max_limit = sv->limits[s] > max_limit ? sv->limits[s] : max_limit;
        sum_limits += sv->limits[s];
    }
    const unsigned attempts = (unsigned)(n * (max_limit + 1));
    state = ops->create(&sv->setup);
    pthread_barrier_init(&barrier, NULL, nt);
    for (unsigned i = 0; i < nt; i++) {
        args[i] = (check_arg){ops, state, i, n, attempts, &barrier, 0, NULL, NULL, 0};
        spawn(&tid[i], check_limit_worker, &args[i]);
    }
    uint64_t granted = 0;
    for (unsigned i = 0; i < nt; i++) {
        pthread_join(tid[i], NULL);
        granted += args[i].granted;
    }
    pthread_barrier_destroy(&barrier);
    ops->snapshot(state, used);
    uint64_t wrong = 0;
    for (unsigned s = 0; s < n; s++)
        wrong += used[s] > sv->limits[s] ? used[s] - sv->limits[s] : sv->limits[s] - used[s];
    const uint64_t over = granted > sum_limits ? granted - sum_limits : 0;
    wrong += granted < sum_limits ? sum_limits - granted : 0;
    ops->destroy(state);
    row = (perf_result){.strategy = st,
                        .workload = "check-limit",
                        .cell = {.services = n, .threads = nt},
                        .phase = "check",
                        .ops = (uint64_t)nt * attempts,
                        .lost = wrong,
                        .limit_violations = over,
                        .refused = (uint64_t)nt * attempts - granted,
                        .verdict = verdict(st, wrong, over, 0)};
    results_add(&row);
    ok &= strcmp(row.verdict, "FAIL") != 0;

    /* Consistent cut: writers in rounds while one monitor takes its snapshots, all of them
     * after every writer has started. */
    const unsigned writers = nt < 2 ? 2 : nt, wanted = n_ops / 4 + 1;
    atomic_bool stop = false;
    atomic_uint started = 0;
    state = ops->create(&sv->setup);
    pthread_barrier_init(&barrier, NULL, writers + 1);
    for (unsigned i = 0; i < writers; i++) {
        args[i] = (check_arg){ops, state, i, n, 0, &barrier, 0, &stop, &started, 0};
        spawn(&tid[i], check_cut_writer, &args[i]);
    }
    pthread_barrier_wait(&barrier);
    while (atomic_load(&started) < writers)
        sched_yield();
    uint64_t torn = 0, prev[PERF_MAX_SERVICES] = {0};
    for (unsigned k = 0; k < wanted; k++) {
        ops->snapshot(state, used);
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
    ops->snapshot(state, used);
    lost = 0;
    for (unsigned s = 0; s < n; s++)
        lost += rounds > used[s] ? rounds - used[s] : used[s] - rounds;
    ops->destroy(state);
    row = (perf_result){.strategy = st,
                        .workload = "check-cut",
                        .cell = {.services = n, .threads = writers},
                        .phase = "check",
                        .ops = rounds * n,
                        .snaps = wanted,
                        .lost = lost,
                        .torn = torn,
                        .verdict = verdict(st, lost, 0, torn)};
    results_add(&row);
    ok &= strcmp(row.verdict, "FAIL") != 0;

    fprintf(stderr, "validate %-8s services=%-3u %s\n", st->name, n, ok ? "passed" : "FAILED");
    return ok;
}
