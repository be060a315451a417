/* One rate window of a service: its calendar bounds, its count and its level. Pointer-free, so
 * it can live in memory shared between processes. What a shared store adds per window (the
 * host's lease and cumulative counters) lives apart from it: docs/design.md, "The store seam". */
#ifndef QK_WINDOW_H
#define QK_WINDOW_H

#include <stdint.h>

#include "calendar.h"
#include "test_hooks.h"

typedef struct {
    uint64_t used;
    int64_t start_ms, end_ms;
    uint64_t limit;
    /* Thresholds precomputed as counts so the hot path only compares:
     * used >= warn_at  <=>  used*100 >= warn_pct*limit. */
    uint64_t warn_at, critical_at;
    uint8_t period;
    uint8_t level;
} qk_window;

void qk__window_init(qk_window *w, qk_period period, uint64_t limit, unsigned warn_pct,
                     unsigned critical_pct, int64_t now_ms);

/* Smallest count c with c*100 >= pct*limit, without overflow. */
uint64_t qk__threshold_count(uint64_t limit, unsigned pct);

static inline qk_level qk__window_level(const qk_window *w, uint64_t used)
{
    if (used >= w->limit)
        return QK_LEVEL_EXHAUSTED;
    if (used >= w->critical_at)
        return QK_LEVEL_CRITICAL;
    if (used >= w->warn_at)
        return QK_LEVEL_WARN;
    return QK_LEVEL_OK;
}

/* Whether now_ms has passed the window's end. A time before the window's start (a clock
 * stepped back, or read before a racing thread rolled the window) never moves it backwards: it
 * counts in the current window. QK_NEVER is the end of a window that never ends. */
static inline int qk__window_ended(const qk_window *w, int64_t now_ms)
{
    return now_ms >= w->end_ms && w->end_ms != QK_NEVER;
}

/* Moves the window forward when it has ended and reports whether it did. The caller sets the
 * count to 0 and updates the level. */
static inline int qk__window_roll(qk_window *w, int64_t now_ms)
{
    if (!qk__window_ended(w, now_ms))
        return 0;
    w->start_ms = qk__period_start((qk_period)w->period, now_ms);
    TEST_POINT(QK_TP_WINDOW_HALF_ROLLED, QK_TP_NO_SERVICE); /* state_procs: an open in between */
    w->end_ms = qk__period_end((qk_period)w->period, w->start_ms);
    return 1;
}

#endif
