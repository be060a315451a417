/* stress_cut: qk_snapshot is a consistent cut, and counts never go down.
 *
 * Usage: stress_cut [writers [rounds_per_writer [services]]]
 *        (or QK_STRESS_THREADS, QK_STRESS_OPS, QK_STRESS_SERVICES; keep services <= 62 under
 *        ThreadSanitizer, which aborts when a thread holds more than 64 mutexes)
 *
 * The S services (S even) form pairs (k, k + S/2). In each round a writer picks a pair and
 * counts the same n calls first on k (A), then on k + S/2 (B), so at every instant every pair
 * has count(A) >= count(B), the difference being at most the calls of the rounds in flight
 * (3 per writer). A checker thread takes snapshots while they run; a reader thread peeks at
 * every service in turn. Invariants, all exact:
 * - in every snapshot, every pair has A >= B and A - B within the in-flight bound;
 * - no service's count in a snapshot is below its count in the previous snapshot, and no peek
 *   of a service is below the previous peek of it;
 * - at the end both services of each pair hold exactly the calls the writers counted there.
 *
 * Interleavings caught: a snapshot that is not one cut, e.g. one that locks and reads the slots
 * one at a time: it reads A, a writer counts on A and then on B, it reads B, and B > A. Half
 * the services lie between A and B, which leaves the writer room to overtake the snapshot. Also
 * a snapshot or peek that sees a stale copy of a slot (a count going down) and a lost update
 * (the final totals). */
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

enum { MAX_N = 3 };

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    unsigned index, n_services;
    long rounds;
    uint64_t *calls; /* per first service of a pair: calls counted on it and on its partner */
} writer;

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    unsigned n_services, n_writers;
    _Atomic int *writers_left;
    long snapshots;
} checker;

static void *write_rounds(void *arg)
{
    writer *w = arg;
    const unsigned half = w->n_services / 2;
    pthread_barrier_wait(w->go);
    for (long k = 0; k < w->rounds; k++) {
        const uint64_t n = 1 + (uint64_t)((w->index + (unsigned long)k) % MAX_N);
        const unsigned a = (unsigned)((w->index + (unsigned long)k) % half);
        CHECK_RC(qk_record(w->t, a, n, NULL), QK_OK);
        CHECK_RC(qk_record(w->t, a + half, n, NULL), QK_OK);
        w->calls[a] += n;
    }
    return NULL;
}

static void *take_snapshots(void *arg)
{
    checker *c = arg;
    const unsigned half = c->n_services / 2;
    qk_usage *snap = qkt_calloc(c->n_services, sizeof *snap);
    uint64_t *prev = qkt_calloc(c->n_services, sizeof *prev);
    const uint64_t in_flight = (uint64_t)c->n_writers * MAX_N;
    pthread_barrier_wait(c->go);
    int last = 0;
    while (!last) {
        /* One more snapshot after the writers are done. */
        last = atomic_load(c->writers_left) == 0;
        size_t count = 0;
        const int rc = qk_snapshot(c->t, snap, c->n_services, &count);
        CHECK(rc == QK_OK && count == c->n_services, "snapshot: rc %d, %zu services", rc, count);
        if (rc != QK_OK)
            break;
        c->snapshots++;
        for (unsigned s = 0; s < c->n_services; s++) {
            const uint64_t v = snap[s].windows[0].used;
            CHECK(v >= prev[s], "snapshot %ld: service %u went down from %llu to %llu",
                  c->snapshots, s, (unsigned long long)prev[s], (unsigned long long)v);
            prev[s] = v;
        }
        for (unsigned a = 0; a < half; a++) {
            const uint64_t va = snap[a].windows[0].used, vb = snap[a + half].windows[0].used;
            CHECK(va >= vb, "snapshot %ld is not a cut: service %u has %llu calls, service %u %llu",
                  c->snapshots, a + half, (unsigned long long)vb, a, (unsigned long long)va);
            CHECK(va - vb <= in_flight,
                  "snapshot %ld: services %u and %u differ by %llu > %llu in flight", c->snapshots,
                  a, a + half, (unsigned long long)(va - vb), (unsigned long long)in_flight);
        }
    }
    free(snap);
    free(prev);
    return NULL;
}

static void *peek_around(void *arg)
{
    checker *c = arg;
    uint64_t *prev = qkt_calloc(c->n_services, sizeof *prev);
    pthread_barrier_wait(c->go);
    for (unsigned s = 0; atomic_load(c->writers_left) > 0; s = (s + 1) % c->n_services) {
        qk_usage u;
        CHECK_RC(qk_peek(c->t, s, &u), QK_OK);
        CHECK(u.windows[0].used >= prev[s], "peek: service %u went down from %llu to %llu", s,
              (unsigned long long)prev[s], (unsigned long long)u.windows[0].used);
        prev[s] = u.windows[0].used;
    }
    free(prev);
    return NULL;
}

int main(int argc, char **argv)
{
    const long writers = qkt_param(argc, argv, 1, "QK_STRESS_THREADS", 4);
    const long rounds = qkt_param(argc, argv, 2, "QK_STRESS_OPS", 3000);
    const long n_services = qkt_param(argc, argv, 3, "QK_STRESS_SERVICES", 16);
    if (writers < 1 || n_services < 2 || n_services > 1000 || n_services % 2 != 0) {
        fprintf(stderr, "need writers >= 1 and an even number of services in 2..1000\n");
        return 2;
    }
    printf("stress_cut: %ld writers x %ld rounds over %ld services, 1 snapshot taker, 1 peeker\n",
           writers, rounds, n_services);

    qkt_clock now = {QKT_T0_MS};
    qk_service_def *defs = qkt_named_defs(n_services, "chain");
    for (long s = 0; s < n_services; s++)
        defs[s].windows[0] = (qk_window_def){QK_FOREVER, UINT64_MAX};
    const qk_options opts = qkt_clocked_options(defs, (size_t)n_services, &now);
    qk_tracker *t;
    qkt_tracker_new_or_exit(&t, &opts);

    _Atomic int writers_left = (int)writers;
    qkt_crew crew; /* the writers, and the snapshot taker and the peeker beside them */
    qkt_crew_init(&crew, writers, 2);
    writer *w = qkt_calloc((size_t)writers, sizeof *w);
    checker c = {t, &crew.go, (unsigned)n_services, (unsigned)writers, &writers_left, 0};
    pthread_t snapper, peeker;
    qkt_threads_start(&snapper, 1, take_snapshots, &c, 0);
    qkt_threads_start(&peeker, 1, peek_around, &c, 0);
    for (long i = 0; i < writers; i++)
        w[i] = (writer){t,           &crew.go,
                        (unsigned)i, (unsigned)n_services,
                        rounds,      qkt_calloc((size_t)n_services / 2, sizeof(uint64_t))};
    qkt_crew_start(&crew, write_rounds, w, sizeof *w);
    /* Each writer is joined on its own: the checkers take one more look after the last ends. */
    for (long i = 0; i < writers; i++) {
        pthread_join(crew.threads[i], NULL);
        atomic_fetch_sub(&writers_left, 1);
    }
    pthread_join(snapper, NULL);
    pthread_join(peeker, NULL);

    for (long a = 0; a < n_services / 2; a++) {
        uint64_t total = 0;
        for (long i = 0; i < writers; i++)
            total += w[i].calls[a];
        for (long s = a; s < n_services; s += n_services / 2) {
            qk_usage u;
            CHECK_RC(qk_peek(t, (qk_service)s, &u), QK_OK);
            CHECK(u.windows[0].used == total, "service %ld holds %llu calls, writers counted %llu",
                  s, (unsigned long long)u.windows[0].used, (unsigned long long)total);
        }
    }
    printf("%ld snapshots checked\n", c.snapshots);

    qk_tracker_free(t);
    for (long i = 0; i < writers; i++)
        free(w[i].calls);
    free(w);
    free(defs);
    qkt_crew_destroy(&crew);
    return qkt_verdict("stress_cut");
}
