/* stress_totals: no count is ever lost, on one service or across services.
 *
 * Usage: stress_totals [threads [ops_per_thread [services]]]
 *        (or QK_STRESS_THREADS, QK_STRESS_OPS, QK_STRESS_SERVICES)
 *
 * Every thread walks the services round-robin from its own offset, counting one call at a time
 * with qk_record (and every fourth time with qk_try_consume under a limit that never binds).
 * Invariants, all exact:
 * - per service, the final count equals the number of calls the threads counted there, in
 *   qk_peek and in qk_snapshot, in both of the service's windows;
 * - the counts returned by the calls on one service are exactly 1..N, each once: every call saw
 *   its own increment and no other call saw the same state.
 *
 * Interleavings caught: two threads' read-modify-write of one slot overlapping (same-service lost
 * update: a count returned twice, a final total short); a write-back of a stale copy of another
 * service's counts (the spec's bug: thread A copies tiingo=0,finnhub=0, thread B does too, A
 * writes tiingo=1, B writes finnhub=1 over it: tiingo's total is short); a window updated
 * without the other (the two windows' counts differ); usage copied out after the unlock (a
 * returned count that is not this call's). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fail.h"
#include "program.h"
#include "threads.h"
#include "usage.h"

enum { WINDOWS = 2 };

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    unsigned index, n_services;
    long ops;
    uint64_t *seen; /* the count each call returned, in call order */
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->go);
    for (long k = 0; k < w->ops; k++) {
        const qk_service s = (qk_service)((w->index + (unsigned long)k) % w->n_services);
        qk_usage u;
        int rc;
        if (k % 4 == 3)
            rc = qk_try_consume(w->t, s, 1, 0, &u);
        else
            rc = qk_record(w->t, s, 1, &u);
        CHECK(rc == QK_OK, "thread %u op %ld: rc %d (%s)", w->index, k, rc, qk_errmsg());
        CHECK(u.windows[0].used == u.windows[1].used,
              "service %u: a call left its windows at %llu and %llu", s,
              (unsigned long long)u.windows[0].used, (unsigned long long)u.windows[1].used);
        w->seen[k] = u.windows[0].used;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const long threads = qkt_param(argc, argv, 1, "QK_STRESS_THREADS", 8);
    const long ops = qkt_param(argc, argv, 2, "QK_STRESS_OPS", 20000);
    const long n_services = qkt_param(argc, argv, 3, "QK_STRESS_SERVICES", 8);
    if (threads < 1 || n_services < 1 || n_services > 1000) {
        fprintf(stderr, "need threads >= 1 and 1 <= services <= 1000\n");
        return 2;
    }
    printf("stress_totals: %ld threads x %ld ops over %ld services\n", threads, ops, n_services);

    qkt_clock now = {QKT_T0_MS};
    qk_service_def *defs = qkt_named_defs(n_services, "svc");
    for (long s = 0; s < n_services; s++) {
        defs[s].windows[0] = (qk_window_def){QK_FOREVER, UINT64_MAX};
        defs[s].windows[1] = (qk_window_def){QK_DAY, UINT64_MAX};
    }
    const qk_options opts = qkt_clocked_options(defs, (size_t)n_services, &now);
    qk_tracker *t;
    qkt_tracker_new_or_exit(&t, &opts);

    qkt_crew crew;
    qkt_crew_init(&crew, threads, 0);
    worker *w = qkt_calloc((size_t)threads, sizeof *w);
    for (long i = 0; i < threads; i++)
        w[i] = (worker){t,           &crew.go,
                        (unsigned)i, (unsigned)n_services,
                        ops,         qkt_calloc((size_t)ops, sizeof(uint64_t))};
    qkt_crew_start(&crew, run, w, sizeof *w);
    qkt_crew_join(&crew);

    /* The expected totals, and each service's returned counts as a set. */
    uint64_t *expect = qkt_calloc((size_t)n_services, sizeof *expect);
    for (long i = 0; i < threads; i++)
        for (long k = 0; k < ops; k++)
            expect[((unsigned long)i + (unsigned long)k) % (unsigned long)n_services]++;
    unsigned char **hit = qkt_calloc((size_t)n_services, sizeof *hit);
    for (long s = 0; s < n_services; s++)
        hit[s] = qkt_calloc((size_t)expect[s] + 1, 1);
    for (long i = 0; i < threads; i++)
        for (long k = 0; k < ops; k++) {
            const unsigned long s =
                ((unsigned long)i + (unsigned long)k) % (unsigned long)n_services;
            const uint64_t v = w[i].seen[k];
            if (v == 0 || v > expect[s]) {
                CHECK(0, "service %lu: a call returned count %llu, outside 1..%llu", s,
                      (unsigned long long)v, (unsigned long long)expect[s]);
                continue;
            }
            CHECK(hit[s][v] == 0, "service %lu: two calls both returned count %llu (lost update)",
                  s, (unsigned long long)v);
            hit[s][v] = 1;
        }

    qk_usage *snap = qkt_calloc((size_t)n_services, sizeof *snap);
    size_t count = 0;
    CHECK_RC(qk_snapshot(t, snap, (size_t)n_services, &count), QK_OK);
    CHECK(count == (size_t)n_services, "snapshot has %zu services, not %ld", count, n_services);
    for (long s = 0; s < n_services; s++) {
        qk_usage u;
        CHECK_RC(qk_peek(t, (qk_service)s, &u), QK_OK);
        for (unsigned win = 0; win < WINDOWS; win++) {
            CHECK(u.windows[win].used == expect[s],
                  "service %ld window %u: peek shows %llu calls, threads counted %llu", s, win,
                  (unsigned long long)u.windows[win].used, (unsigned long long)expect[s]);
            CHECK(snap[s].windows[win].used == expect[s],
                  "service %ld window %u: snapshot shows %llu calls, threads counted %llu", s, win,
                  (unsigned long long)snap[s].windows[win].used, (unsigned long long)expect[s]);
        }
    }

    qk_tracker_free(t);
    for (long s = 0; s < n_services; s++)
        free(hit[s]);
    for (long i = 0; i < threads; i++)
        free(w[i].seen);
    free(hit);
    free(snap);
    free(expect);
    free(w);
    free(defs);
    qkt_crew_destroy(&crew);
    return qkt_verdict("stress_totals");
}
