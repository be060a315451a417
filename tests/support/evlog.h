/* Per-thread event logs for concurrent programs (stress_events, stress_soak): the callback
 * appends each event to the log of the thread it runs in (a thread-local pointer), and after the
 * threads are joined the logs are merged and checked per service:
 * - the seq numbers are exactly 1..M, each delivered once (no level change lost, none twice);
 * - in seq order, per window, each event starts from the level the previous one ended at (the
 *   first from OK), and changes the level;
 * - the last level of each window is the level the final usage shows.
 * Per-thread logs need no atomics: pthread_join orders them before the check. Violations are
 * reported with CHECK (fail.h). */
#ifndef QKT_EVLOG_H
#define QKT_EVLOG_H

#include <stddef.h>
#include <stdint.h>

#include "quotakeeper.h"

enum { QKT_EVLOG_MAX_SERVICES = 64 };

typedef struct {
    qk_service service;
    unsigned window;
    qk_level from, to;
    uint64_t used, limit, seq;
} qkt_evlog_entry;

typedef struct {
    qkt_evlog_entry *ev;
    size_t n, cap;
} qkt_evlog;

/* The log of the calling thread; NULL where no event is expected. */
extern _Thread_local qkt_evlog *qkt_evlog_mine;

/* Called from the event callback. */
void qkt_evlog_append(const qk_event *ev);

/* Reads the final usage of services 0..n-1 for qkt_evlog_check. A final peek may roll a window
 * and so deliver events in the main thread: they go to main_log, the log after the workers'. */
qk_usage *qkt_evlog_final_usage(qk_tracker *t, size_t n, qkt_evlog *main_log);

void qkt_evlog_free_all(qkt_evlog *logs, size_t n_logs);

/* Checks n_logs logs against the final usage of n_services services. level_of, when not NULL,
 * gives the level a window's count implies (checked against each event's `to`). Returns the
 * number of events. */
size_t qkt_evlog_check(qkt_evlog *logs, size_t n_logs, const qk_usage *final, size_t n_services,
                       qk_level (*level_of)(const qkt_evlog_entry *));

#endif
