#include "evlog.h"

#include <stdio.h>
#include <stdlib.h>

#include "fail.h"

/* The log of the calling thread; NULL where no event is expected. */
_Thread_local qkt_evlog *qkt_evlog_mine;

/* Called from the event callback. */
void qkt_evlog_append(const qk_event *ev)
{
    qkt_evlog *log = qkt_evlog_mine;
    CHECK(log != NULL, "an event for service %u was delivered in a thread that made no call",
          ev->service);
    CHECK(ev->service < QKT_EVLOG_MAX_SERVICES && ev->window < QK_MAX_WINDOWS,
          "event for service %u window %u", ev->service, ev->window);
    if (log == NULL || ev->service >= QKT_EVLOG_MAX_SERVICES || ev->window >= QK_MAX_WINDOWS)
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
        (qkt_evlog_entry){ev->service, ev->window, ev->from, ev->to, ev->used, ev->limit, ev->seq};
}

/* Reads the final usage of services 0..n-1 for qkt_evlog_check. A final peek may roll a window and
 * so deliver events in the main thread: they go to main_log, the log after the workers'. */
qk_usage *qkt_evlog_final_usage(qk_tracker *t, size_t n, qkt_evlog *main_log)
{
    qkt_evlog_mine = main_log;
    qk_usage *final = qkt_calloc(n, sizeof *final);
    for (size_t s = 0; s < n; s++)
        CHECK_RC(qk_peek(t, (qk_service)s, &final[s]), QK_OK);
    qkt_evlog_mine = NULL;
    return final;
}

void qkt_evlog_free_all(qkt_evlog *logs, size_t n_logs)
{
    for (size_t i = 0; i < n_logs; i++)
        free(logs[i].ev);
    free(logs);
}

static int by_seq(const void *a, const void *b)
{
    const qkt_evlog_entry *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Checks n_logs logs against the final usage of n_services services. level_of, when not NULL,
 * gives the level a window's count implies (checked against each event's `to`). Returns the
 * number of events. */
size_t qkt_evlog_check(qkt_evlog *logs, size_t n_logs, const qk_usage *final, size_t n_services,
                       qk_level (*level_of)(const qkt_evlog_entry *))
{
    size_t total = 0;
    for (size_t i = 0; i < n_logs; i++)
        total += logs[i].n;
    qkt_evlog_entry *all = qkt_calloc(total, sizeof *all);
    size_t *start = qkt_calloc(n_services + 1, sizeof *start);
    size_t *fill = qkt_calloc(n_services, sizeof *fill);
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
        qkt_evlog_entry *ev = all + start[s];
        const size_t m = start[s + 1] - start[s];
        qsort(ev, m, sizeof *ev, by_seq);
        qk_level level[QK_MAX_WINDOWS] = {QK_LEVEL_OK, QK_LEVEL_OK, QK_LEVEL_OK, QK_LEVEL_OK};
        for (size_t j = 0; j < m; j++) {
            const qkt_evlog_entry *e = &ev[j];
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
