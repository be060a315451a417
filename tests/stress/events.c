/* stress_events: exactly one event per level change, whatever the interleaving.
 *
 * Usage: stress_events [threads [ops_per_thread [services]]]
 *        (or QK_STRESS_THREADS, QK_STRESS_OPS, QK_STRESS_SERVICES)
 *
 * Few services, many threads: each service has a MINUTE window of limit 40 (warn at 20,
 * critical at 32) and a FOREVER window of limit 200, and the threads keep driving them across
 * the thresholds with single records, with consumes, refunds, set_used, resets, and (thread 0)
 * a clock stepped a minute ahead (the MINUTE windows roll) and qk_reset_all. The callback,
 * which runs in the thread that caused the change, logs each event in that thread's log,
 * counts it with an atomic, and peeks at the tracker (a callback may call back in).
 * Invariants over the merged logs, per service, all exact (evlog.h):
 * - the events' seq numbers are exactly 1..M, each delivered once (no change lost, none twice);
 * - in seq order, per window, each event starts from the level the previous one ended at (the
 *   first from OK), changes the level, and ends at the level its own count implies;
 * - the last event's level of each window is the level qk_peek shows at the end;
 * - the atomic count in the callback equals the events logged, and each names its service.
 *
 * Interleavings caught: two threads crossing the same threshold and both reporting it (a seq
 * twice, or two events from the same level); a level computed outside the slot lock (a chain
 * whose from does not follow the previous to); an event dropped when changes race (a gap in
 * seq, or the chain broken); a rollover and a record racing on the level (the chain again);
 * events delivered under a lock (callback's peek: deadlock, or a lock-order abort in Debug). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "evlog.h"
#include "fail.h"
#include "program.h"
#include "threads.h"

enum { WINDOWS = 2, MINUTE_LIMIT = 40, FOREVER_LIMIT = 200, MAX_SERVICES = 62 };

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    qkt_clock *now;
    unsigned index, n_services;
    long ops;
    qkt_evlog *log;
} worker;

static _Atomic unsigned long delivered[MAX_SERVICES];
static char names[MAX_SERVICES][16];

/* The level a count implies with the default thresholds: 50% and 80%, rounded up. */
static qk_level level_of(const qkt_evlog_entry *e)
{
    if (e->used >= e->limit)
        return QK_LEVEL_EXHAUSTED;
    if (e->used * 100 >= 80 * e->limit)
        return QK_LEVEL_CRITICAL;
    if (e->used * 100 >= 50 * e->limit)
        return QK_LEVEL_WARN;
    return QK_LEVEL_OK;
}

static void on_event(const qk_event *ev, void *payload)
{
    qk_tracker *t = *(qk_tracker **)payload;
    qkt_evlog_append(ev);
    if (ev->service >= MAX_SERVICES || ev->window >= WINDOWS)
        return;
    CHECK(ev->name != NULL && strcmp(ev->name, names[ev->service]) == 0,
          "event for service %u names '%s'", ev->service, ev->name ? ev->name : "(null)");
    CHECK(ev->limit == (ev->window == 0 ? MINUTE_LIMIT : FOREVER_LIMIT),
          "event for service %u window %u has limit %llu", ev->service, ev->window,
          (unsigned long long)ev->limit);
    atomic_fetch_add_explicit(&delivered[ev->service], 1, memory_order_relaxed);
    /* Calling back into the tracker from the callback is allowed. */
    qk_usage u;
    CHECK_RC(qk_peek(t, ev->service, &u), QK_OK);
}

static void *run(void *arg)
{
    worker *w = arg;
    qkt_evlog_mine = w->log;
    pthread_barrier_wait(w->go);
    for (long k = 0; k < w->ops; k++) {
        const qk_service s = (qk_service)((w->index + (unsigned long)k) % w->n_services);
        const long step = k % 50;
        if (w->index == 0 && k % 100 == 0) {
            /* A minute passes: every MINUTE window rolls on its next access. */
            qkt_clock_advance(w->now, 60000);
        } else if (w->index == 0 && k % 100 == 50) {
            CHECK_RC(qk_reset_all(w->t), QK_OK);
        } else if (step == 7) {
            CHECK_RC(qk_reset(w->t, s), QK_OK);
        } else if (step == 13 || step == 31) {
            const unsigned win = (unsigned)(k / 50) % WINDOWS;
            const uint64_t lim = win == 0 ? MINUTE_LIMIT : FOREVER_LIMIT;
            CHECK_RC(qk_set_used(w->t, s, win, ((uint64_t)k * 7) % (lim + 5)), QK_OK);
        } else if (step % 9 == 2) {
            CHECK_RC(qk_refund(w->t, s, 2), QK_OK);
        } else if (step % 5 == 3) {
            const int rc = qk_try_consume(w->t, s, 1, 0, NULL);
            CHECK(rc == QK_OK || rc == QK_ELIMIT, "consume: rc %d", rc);
        } else {
            CHECK_RC(qk_record(w->t, s, 1, NULL), QK_OK);
        }
    }
    qkt_evlog_mine = NULL;
    return NULL;
}

int main(int argc, char **argv)
{
    const long threads = qkt_param(argc, argv, 1, "QK_STRESS_THREADS", 8);
    const long ops = qkt_param(argc, argv, 2, "QK_STRESS_OPS", 20000);
    const long n_services = qkt_param(argc, argv, 3, "QK_STRESS_SERVICES", 2);
    if (threads < 1 || n_services < 1 || n_services > MAX_SERVICES) {
        fprintf(stderr, "need threads >= 1 and 1 <= services <= %d\n", MAX_SERVICES);
        return 2;
    }
    printf("stress_events: %ld threads x %ld ops over %ld services\n", threads, ops, n_services);

    qkt_clock now = {QKT_T0_MS};
    qk_service_def defs[MAX_SERVICES];
    memset(defs, 0, sizeof defs);
    for (long s = 0; s < n_services; s++) {
        snprintf(names[s], sizeof names[s], "svc%ld", s);
        defs[s].name = names[s];
        defs[s].windows[0] = (qk_window_def){QK_MINUTE, MINUTE_LIMIT};
        defs[s].windows[1] = (qk_window_def){QK_FOREVER, FOREVER_LIMIT};
    }
    qk_tracker *t;
    qk_options opts = qkt_clocked_options(defs, (size_t)n_services, &now);
    opts.on_event = on_event;
    opts.payload = &t;
    qkt_tracker_new_or_exit(&t, &opts);

    /* logs[threads] is the main thread's: its final peeks may roll a window. */
    qkt_evlog *logs = qkt_calloc((size_t)threads + 1, sizeof *logs);
    qkt_crew crew;
    qkt_crew_init(&crew, threads, 0);
    worker *w = qkt_calloc((size_t)threads, sizeof *w);
    for (long i = 0; i < threads; i++)
        w[i] = (worker){t, &crew.go, &now, (unsigned)i, (unsigned)n_services, ops, &logs[i]};
    qkt_crew_start(&crew, run, w, sizeof *w);
    qkt_crew_join(&crew);

    qk_usage *final = qkt_evlog_final_usage(t, (size_t)n_services, &logs[threads]);

    unsigned long counted = 0;
    for (long s = 0; s < n_services; s++)
        counted += atomic_load(&delivered[s]);
    const size_t logged =
        qkt_evlog_check(logs, (size_t)threads + 1, final, (size_t)n_services, level_of);
    CHECK(counted == logged, "the callback counted %lu events, the logs hold %zu", counted, logged);
    printf("%zu level changes, each delivered once\n", logged);

    qk_tracker_free(t);
    qkt_evlog_free_all(logs, (size_t)threads + 1);
    free(final);
    free(w);
    qkt_crew_destroy(&crew);
    return qkt_verdict("stress_events");
}
