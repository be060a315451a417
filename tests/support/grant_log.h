/* A log of every grant of a fleet, for the rolling-window safety checks (issue 22): each grant
 * is logged with the wall-clock interval [before, after] in which its consume ran (the same clock
 * as the store's on this machine), in memory shared by the host processes. The check counts, for
 * every grant j, the grants that certainly ran inside (after_j - W, after_j]: before_i >
 * after_j - W and after_i <= after_j. That never counts a grant that could lie outside, so a
 * count past the limit is a real breach, whatever the scheduler did between the stamps. */
#ifndef QKT_GRANT_LOG_H
#define QKT_GRANT_LOG_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    int64_t before_us, after_us;
    uint64_t n; /* calls granted (a refund may lower it later) */
} qkt_grant;

typedef struct {
    _Atomic uint64_t n; /* grants logged; those past cap are counted, not kept */
    uint64_t cap;
    qkt_grant g[]; /* cap of them */
} qkt_grant_log;

static inline int64_t qkt_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline size_t qkt_grant_log_size(uint64_t cap)
{
    return sizeof(qkt_grant_log) + cap * sizeof(qkt_grant);
}

/* Logs a grant of n calls; its index, or -1 when the log is full (the check then fails on it). */
static inline int64_t qkt_grant_log_add_n(qkt_grant_log *log, int64_t before_us, int64_t after_us,
                                          uint64_t n)
{
    const uint64_t i = atomic_fetch_add(&log->n, 1);
    if (i >= log->cap)
        return -1;
    log->g[i] = (qkt_grant){before_us, after_us, n};
    return (int64_t)i;
}

/* Logs a grant of one call; 0, or -1 when the log is full. */
static inline int qkt_grant_log_add(qkt_grant_log *log, int64_t before_us, int64_t after_us)
{
    return qkt_grant_log_add_n(log, before_us, after_us, 1) < 0 ? -1 : 0;
}

static inline int qkt_grant_by_after(const void *a, const void *b)
{
    const qkt_grant *x = a, *y = b;
    return (x->after_us > y->after_us) - (x->after_us < y->after_us);
}

/* The most calls granted that certainly ran inside one interval (t - window_us, t], over the log
 * (sorted in place); *at_us: the t of that interval. */
static inline uint64_t qkt_grant_log_max(qkt_grant_log *log, int64_t window_us, int64_t *at_us)
{
    const uint64_t n = log->n < log->cap ? log->n : log->cap;
    qsort(log->g, n, sizeof log->g[0], qkt_grant_by_after);
    uint64_t best = 0;
    *at_us = 0;
    for (uint64_t j = 0; j < n; j++) {
        const int64_t t = log->g[j].after_us;
        uint64_t count = 0;
        /* Grants with after_i <= t are those up to j; scan back while they could be inside. */
        for (uint64_t i = j + 1; i-- > 0;) {
            if (log->g[i].after_us <= t - window_us)
                break; /* sorted: every earlier one ends before the interval */
            count += log->g[i].before_us > t - window_us ? log->g[i].n : 0;
        }
        if (count > best) {
            best = count;
            *at_us = t;
        }
    }
    return best;
}

#endif
