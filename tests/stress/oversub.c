/* stress_oversub: the spec's shape, 200 threads on 2 cores, with exact totals.
 *
 * Usage: stress_oversub [threads [ops_per_thread [cpus]]]
 *        (or QK_STRESS_THREADS, QK_STRESS_OPS, QK_STRESS_CPUS)
 *
 * The process pins itself to the first `cpus` (2) CPUs it may use, then starts the threads on a
 * barrier; each makes single calls on the spec's three services in turn (tiingo, finnhub,
 * sendgrid): a 1 us sleep stands for the provider call, then qk_record counts it, and the
 * thread publishes how many it has done. The first thread to finish copies every thread's
 * progress at that moment, and the program prints the spread (min, median, max, and how many
 * threads had done nothing): a lock that starves some threads shows as a minimum near 0 while
 * the median is high. The spread is reported, not asserted: it depends on the scheduler.
 * Invariants, all exact: per service, the final count (qk_peek and qk_snapshot) equals the calls
 * the threads counted there; every call returned QK_OK.
 *
 * Interleavings caught: lost updates when threads are preempted inside their critical section
 * (many more threads than cores makes a preemption between read and write-back likely: the
 * spec's 100-of-200 failure); lock handoff that wedges under oversubscription (the run never
 * ends: ctest's timeout). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fail.h"
#include "program.h"
#include "threads.h"

enum { SERVICES = 3 };

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    unsigned index;
    long ops;
    _Atomic long *progress; /* all threads' */
    _Atomic int *first_done;
    long *at_first_done; /* filled by the first thread to finish */
    long threads;
    uint64_t counted[SERVICES];
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->go);
    for (long k = 0; k < w->ops; k++) {
        const unsigned s = (unsigned)((w->index + (unsigned long)k) % SERVICES);
        /* The provider call that the record counts: the thread blocks briefly. */
        const struct timespec call = {0, 1000};
        nanosleep(&call, NULL);
        CHECK_RC(qk_record(w->t, s, 1, NULL), QK_OK);
        w->counted[s]++;
        atomic_store_explicit(&w->progress[w->index], k + 1, memory_order_relaxed);
    }
    if (atomic_exchange(w->first_done, 1) == 0)
        for (long i = 0; i < w->threads; i++)
            w->at_first_done[i] = atomic_load_explicit(&w->progress[i], memory_order_relaxed);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    const long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Restricts the process to the first `want` CPUs of its affinity mask; returns how many. */
static int pin(long want)
{
    cpu_set_t have, use;
    CPU_ZERO(&use);
    if (sched_getaffinity(0, sizeof have, &have) != 0)
        return -1;
    int n = 0;
    printf("pinned to CPUs");
    for (int c = 0; c < CPU_SETSIZE && n < want; c++)
        if (CPU_ISSET(c, &have)) {
            CPU_SET(c, &use);
            printf(" %d", c);
            n++;
        }
    printf("\n");
    if (sched_setaffinity(0, sizeof use, &use) != 0)
        return -1;
    return n;
}

int main(int argc, char **argv)
{
    const long threads = qkt_param(argc, argv, 1, "QK_STRESS_THREADS", 200);
    const long ops = qkt_param(argc, argv, 2, "QK_STRESS_OPS", 3000);
    const long cpus = qkt_param(argc, argv, 3, "QK_STRESS_CPUS", 2);
    if (threads < 1 || ops < 1 || cpus < 1) {
        fprintf(stderr, "need threads, ops and cpus >= 1\n");
        return 2;
    }
    printf("stress_oversub: %ld threads x %ld ops over %d services\n", threads, ops, SERVICES);
    if (pin(cpus) < 0)
        printf("could not pin the CPUs; running on all of them\n");

    qkt_clock now = {QKT_T0_MS};
    static const char *const names[SERVICES] = {"tiingo", "finnhub", "sendgrid"};
    static const qk_window_def windows[SERVICES] = {
        {QK_MONTH, 500}, {QK_MINUTE, 60}, {QK_DAY, 100}};
    qk_service_def defs[SERVICES];
    memset(defs, 0, sizeof defs);
    for (unsigned s = 0; s < SERVICES; s++) {
        defs[s].name = names[s];
        defs[s].windows[0] = windows[s];
    }
    const qk_options opts = qkt_clocked_options(defs, SERVICES, &now);
    qk_tracker *t;
    qkt_tracker_new_or_exit(&t, &opts);

    qkt_crew crew;
    qkt_crew_init(&crew, threads, 0);
    _Atomic long *progress = qkt_calloc((size_t)threads, sizeof *progress);
    QKT_HG_IGNORE(progress, (size_t)threads * sizeof *progress);
    long *at_first_done = qkt_calloc((size_t)threads, sizeof *at_first_done);
    _Atomic int first_done = 0;
    worker *w = qkt_calloc((size_t)threads, sizeof *w);
    for (long i = 0; i < threads; i++)
        w[i] = (worker){.t = t,
                        .go = &crew.go,
                        .index = (unsigned)i,
                        .ops = ops,
                        .progress = progress,
                        .first_done = &first_done,
                        .at_first_done = at_first_done,
                        .threads = threads};
    qkt_crew_start(&crew, run, w, sizeof *w);
    qkt_crew_join(&crew);

    uint64_t expect[SERVICES] = {0};
    for (long i = 0; i < threads; i++)
        for (unsigned s = 0; s < SERVICES; s++)
            expect[s] += w[i].counted[s];
    qk_usage snap[SERVICES];
    size_t count = 0;
    CHECK_RC(qk_snapshot(t, snap, SERVICES, &count), QK_OK);
    for (unsigned s = 0; s < SERVICES; s++) {
        qk_usage u;
        CHECK_RC(qk_peek(t, s, &u), QK_OK);
        CHECK(u.windows[0].used == expect[s] && snap[s].windows[0].used == expect[s],
              "%s: peek %llu, snapshot %llu, threads counted %llu", names[s],
              (unsigned long long)u.windows[0].used, (unsigned long long)snap[s].windows[0].used,
              (unsigned long long)expect[s]);
        printf("%s: %llu calls, all counted\n", names[s], (unsigned long long)expect[s]);
    }

    qsort(at_first_done, (size_t)threads, sizeof *at_first_done, by_value);
    long idle = 0;
    for (long i = 0; i < threads; i++)
        idle += at_first_done[i] == 0;
    printf("progress when the first thread finished (of %ld ops): min %ld, median %ld, max %ld; "
           "%ld threads had done none\n",
           ops, at_first_done[0], at_first_done[threads / 2], at_first_done[threads - 1], idle);

    qk_tracker_free(t);
    free(progress);
    free(at_first_done);
    free(w);
    qkt_crew_destroy(&crew);
    return qkt_verdict("stress_oversub");
}
