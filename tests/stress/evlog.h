/* Event logs for stress_events and stress_soak: the callback appends each event to the log of
 * the thread it runs in (a thread-local pointer), and after the threads are joined the logs are
 * merged and checked per service:
 * - the seq numbers are exactly 1..M, each delivered once (no level change lost, none twice);
 * - in seq order, per window, each event starts from the level the previous one ended at (the
 *   first from OK), and changes the level;
 * - the last level of each window is the level the final usage shows.
 * Per-thread logs need no atomics: pthread_join orders them before the check. */
#ifndef QK_EVLOG_H
#define QK_EVLOG_H

#include "stress.h"

enum { EVLOG_MAX_SERVICES = 64 };

typedef struct {
    qk_service service;
    unsigned window;
    qk_level from, to;
    uint64_t used, limit, seq;
} evlog_entry;

typedef struct {
    evlog_entry *ev;
    size_t n, cap;
} evlog;

/* The log of the calling thread; NULL where no event is expected. */
static _Thread_local evlog *evlog_mine;

/* Called from the event callback. */
static inline void evlog_append(const qk_event *ev)
{
    evlog *log = evlog_mine;
    CHECK(log != NULL, "an event for service %u was delivered in a thread that made no call",
          ev->service);
    CHECK(ev->service < EVLOG_MAX_SERVICES && ev->window < QK_MAX_WINDOWS,
          "event for service %u window %u", ev->service, ev->window);
    if (log == NULL || ev->service >= EVLOG_MAX_SERVICES || ev->window >= QK_MAX_WINDOWS)
        return;
    if (log->n == log->cap) {
        log->cap = log->cap ? 2 * log->cap : 1024;
        log->ev = realloc(log->ev, log->cap * sizeof *log->ev);
        if (log->ev == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
    }
    log->ev[log->n++] =
        (evlog_entry){ev->service, ev->window, ev->from, ev->to, ev->used, ev->limit, ev->seq};
}

/* Reads the final usage of services 0..n-1 for evlog_check. A final peek may roll a window and so
 * deliver events in the main thread: they go to main_log, the log after the workers'. */
static inline qk_usage *evlog_final_usage(qk_tracker *t, size_t n, evlog *main_log)
{
    evlog_mine = main_log;
    qk_usage *final = stress_calloc(n, sizeof *final);
    for (size_t s = 0; s < n; s++)
        CHECK_RC(qk_peek(t, (qk_service)s, &final[s]), QK_OK);
    evlog_mine = NULL;
    return final;
}

static inline void evlog_free_all(evlog *logs, size_t n_logs)
{
    for (size_t i = 0; i < n_logs; i++)
        free(logs[i].ev);
    free(logs);
}

static inline int evlog_by_seq(const void *a, const void *b)
{
    const evlog_entry *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Checks n_logs logs against the final usage of n_services services. level_of, when not NULL,
 * gives the level a window's count implies (checked against each event's `to`). Returns the
 * number of events. */
static inline size_t evlog_check(evlog *logs, size_t n_logs, const qk_usage *final,
                                 size_t n_services, qk_level (*level_of)(const evlog_entry *))
{
    size_t total = 0;
    for (size_t i = 0; i < n_logs; i++)
        total += logs[i].n;
    evlog_entry *all = stress_calloc(total, sizeof *all);
    size_t *start = stress_calloc(n_services + 1, sizeof *start);
    size_t *fill = stress_calloc(n_services, sizeof *fill);
    for (size_t i = 0; i < n_logs; i++)
        for (size_t j = 0; j < logs[i].n; j++) {
            const qk_service s = logs[i].ev[j].service;
            CHECK(s < n_services, "an event for service %u of %zu", s, n_services);
            if (s < n_services)
                start[s + 1]++;
        }
    for (size_t s = 0; s < n_services; s++)
        start[s + 1] += start[s];
    for (size_t i = 0; i < n_logs; i++)
        for (size_t j = 0; j < logs[i].n; j++) {
            const qk_service s = logs[i].ev[j].service;
            if (s < n_services)
                all[start[s] + fill[s]++] = logs[i].ev[j];
        }

    for (size_t s = 0; s < n_services; s++) {
        evlog_entry *ev = all + start[s];
        const size_t m = start[s + 1] - start[s];
        qsort(ev, m, sizeof *ev, evlog_by_seq);
        qk_level level[QK_MAX_WINDOWS] = {QK_LEVEL_OK, QK_LEVEL_OK, QK_LEVEL_OK, QK_LEVEL_OK};
        for (size_t j = 0; j < m; j++) {
            const evlog_entry *e = &ev[j];
            CHECK(e->seq == j + 1, "service %zu: event %zu has seq %llu (%s)", s, j + 1,
                  (unsigned long long)e->seq,
                  e->seq <= j ? "delivered twice" : "a level change was not delivered");
            if (e->seq != j + 1)
                break;
            CHECK(e->from == level[e->window],
                  "service %zu window %u seq %llu: from %s, but the level was %s", s, e->window,
                  (unsigned long long)e->seq, qk_level_name(e->from),
                  qk_level_name(level[e->window]));
            CHECK(e->from != e->to, "service %zu seq %llu: an event that changes nothing", s,
                  (unsigned long long)e->seq);
            if (level_of != NULL)
                CHECK(e->to == level_of(e),
                      "service %zu window %u seq %llu: to %s with %llu used of %llu", s, e->window,
                      (unsigned long long)e->seq, qk_level_name(e->to), (unsigned long long)e->used,
                      (unsigned long long)e->limit);
            level[e->window] = e->to;
        }
        for (unsigned win = 0; win < final[s].n_windows; win++)
            CHECK(final[s].windows[win].level == level[win],
                  "service %zu window %u: the events end at %s, the tracker shows %s", s, win,
                  qk_level_name(level[win]), qk_level_name(final[s].windows[win].level));
    }
    free(all);
    free(start);
    free(fill);
    return total;
}

#endif
