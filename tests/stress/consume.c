/* stress_consume: qk_try_consume is one atomic check-and-count; the limit and the reserve hold.
 *
 * Usage: stress_consume [threads [attempts_per_thread [limit]]]
 *        (or QK_STRESS_THREADS, QK_STRESS_OPS, QK_STRESS_LIMIT)
 *
 * One service, two windows (FOREVER with the limit L, DAY with L + 7: the first one binds) and a
 * reserve R. Phase 1: every thread makes a fixed pattern of attempts of 1..3 calls, one in five
 * with QK_PRIORITY, and gives back every third granted attempt at once (qk_refund). Phase 2,
 * after a barrier: every thread takes single priority calls until refused.
 * Invariants, all exact:
 * - per thread, calls granted + calls refused = calls attempted, and only QK_OK or QK_ELIMIT;
 * - a grant returns a count <= L (<= L - R without QK_PRIORITY), both windows equal;
 * - a refusal is justified by the state it returns: count + n over the cap, tripped = window 0;
 * - at the end both windows hold exactly L = sum(granted) - sum(refunded): the limit was reached
 *   and never passed, and no grant or refund was lost.
 *
 * Interleavings caught: two threads both seeing room for the last calls and both taking them
 * (check and count split across an unlock: a count above L); a consume counted in one window
 * and refused by the other (windows differ); a refund racing a consume (final sum off). */
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

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    unsigned index;
    long attempts;
    uint64_t limit, reserve;
    uint64_t attempted, granted, refused, refunded;
} worker;

static void check_usage(const worker *w, const qk_usage *u, int rc, uint64_t n, unsigned flags)
{
    const uint64_t cap = (flags & QK_PRIORITY) ? w->limit : w->limit - w->reserve;
    const uint64_t used = u->windows[0].used;
    if (rc == QK_OK) {
        CHECK(used <= cap, "thread %u: a grant of %llu left %llu calls, cap %llu", w->index,
              (unsigned long long)n, (unsigned long long)used, (unsigned long long)cap);
        CHECK(u->windows[1].used == used, "thread %u: a grant left the windows at %llu and %llu",
              w->index, (unsigned long long)used, (unsigned long long)u->windows[1].used);
        CHECK(u->tripped == -1, "thread %u: a grant reports tripped %d", w->index, u->tripped);
    } else {
        CHECK(rc == QK_ELIMIT, "thread %u: rc %d (%s)", w->index, rc, qk_errmsg());
        CHECK(used + n > cap, "thread %u: refused %llu calls with %llu used of cap %llu", w->index,
              (unsigned long long)n, (unsigned long long)used, (unsigned long long)cap);
        CHECK(u->tripped == 0, "thread %u: refusal tripped window %d, not 0", w->index, u->tripped);
    }
}

static void *run(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->go);
    for (long k = 0; k < w->attempts; k++) {
        const uint64_t n = 1 + (uint64_t)((w->index + (unsigned long)k) % 3);
        const unsigned flags = (k % 5 == 0) ? QK_PRIORITY : 0;
        qk_usage u;
        const int rc = qk_try_consume(w->t, 0, n, flags, &u);
        check_usage(w, &u, rc, n, flags);
        w->attempted += n;
        if (rc == QK_OK) {
            w->granted += n;
            if (k % 3 == 0) {
                CHECK_RC(qk_refund(w->t, 0, n), QK_OK);
                w->refunded += n;
            }
        } else {
            w->refused += n;
        }
    }
    /* Phase 2: fill to the limit exactly. */
    pthread_barrier_wait(w->go);
    for (;;) {
        qk_usage u;
        const int rc = qk_try_consume(w->t, 0, 1, QK_PRIORITY, &u);
        check_usage(w, &u, rc, 1, QK_PRIORITY);
        w->attempted++;
        if (rc != QK_OK) {
            w->refused++;
            break;
        }
        w->granted++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const long threads = qkt_param(argc, argv, 1, "QK_STRESS_THREADS", 8);
    const long attempts = qkt_param(argc, argv, 2, "QK_STRESS_OPS", 20000);
    const long limit = qkt_param(argc, argv, 3, "QK_STRESS_LIMIT", 5000);
    const uint64_t reserve = 10;
    if (threads < 1 || (uint64_t)limit <= reserve) {
        fprintf(stderr, "need threads >= 1 and limit > %llu\n", (unsigned long long)reserve);
        return 2;
    }
    printf("stress_consume: %ld threads x %ld attempts, limit %ld, reserve %llu\n", threads,
           attempts, limit, (unsigned long long)reserve);

    qkt_clock now = {QKT_T0_MS};
    qk_service_def def = {.name = "quota", .reserve = reserve};
    def.windows[0] = (qk_window_def){QK_FOREVER, (uint64_t)limit};
    def.windows[1] = (qk_window_def){QK_DAY, (uint64_t)limit + 7};
    const qk_options opts = qkt_clocked_options(&def, 1, &now);
    qk_tracker *t;
    qkt_tracker_new_or_exit(&t, &opts);

    qkt_crew crew;
    qkt_crew_init(&crew, threads, 0);
    worker *w = qkt_calloc((size_t)threads, sizeof *w);
    for (long i = 0; i < threads; i++)
        w[i] = (worker){.t = t,
                        .go = &crew.go,
                        .index = (unsigned)i,
                        .attempts = attempts,
                        .limit = (uint64_t)limit,
                        .reserve = reserve};
    qkt_crew_start(&crew, run, w, sizeof *w);
    qkt_crew_join(&crew);

    uint64_t granted = 0, refunded = 0, refused = 0;
    for (long i = 0; i < threads; i++) {
        CHECK(w[i].granted + w[i].refused == w[i].attempted,
              "thread %ld: granted %llu + refused %llu != attempted %llu", i,
              (unsigned long long)w[i].granted, (unsigned long long)w[i].refused,
              (unsigned long long)w[i].attempted);
        granted += w[i].granted;
        refunded += w[i].refunded;
        refused += w[i].refused;
    }
    qk_usage u;
    CHECK_RC(qk_peek(t, 0, &u), QK_OK);
    for (unsigned win = 0; win < 2; win++)
        CHECK(u.windows[win].used == (uint64_t)limit && granted - refunded == (uint64_t)limit,
              "window %u holds %llu; granted %llu - refunded %llu; limit %ld", win,
              (unsigned long long)u.windows[win].used, (unsigned long long)granted,
              (unsigned long long)refunded, limit);
    CHECK(u.level == QK_LEVEL_EXHAUSTED, "level %s at the limit", qk_level_name(u.level));
    printf("granted %llu, refunded %llu, refused %llu calls\n", (unsigned long long)granted,
           (unsigned long long)refunded, (unsigned long long)refused);

    qk_tracker_free(t);
    free(w);
    qkt_crew_destroy(&crew);
    return qkt_verdict("stress_consume");
}
