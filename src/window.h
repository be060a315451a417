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
    /* In what was padding in layout 2 (where it is zero: one period, fixed, UTC), so a 0.2 file
     * reads as it was written and its seal holds. The offset is not stored: the start implies it.
     */
    uint8_t flags;     /* QK_WINDOW_ROLLING */
    uint8_t zone;      /* 0: UTC */
    uint32_t every_m1; /* every - 1 */
} qk_window;

_Static_assert(sizeof(qk_window) == 56, "qk_window must keep the layout 2 size");

static inline uint32_t qk__window_every(const qk_window *w)
{
    return w->every_m1 + 1;
}

/* The length W of a rolling window (second to week, times every: a fixed length). */
static inline int64_t qk__window_rolling_ms(const qk_window *w)
{
    return qk__unit_ms((qk_period)w->period) * (int64_t)qk__window_every(w);
}

struct qk__zone;

/* A window of def's shape at now_ms, count 0. def is valid (qk__service_def_check); a zoned one
 * (def->tz) comes with its zone z and its number in the zone table (1 + index); else NULL, 0. */
void qk__window_init(qk_window *w, const qk_window_def *def, unsigned warn_pct,
                     unsigned critical_pct, int64_t now_ms, const struct qk__zone *z,
                     unsigned zone_no);

/* Whether w has def's shape (period, every, offset, flags, zone number zone_no): a
 * redefinition keeps its count. */
int qk__window_same_shape(const qk_window *w, const qk_window_def *def, unsigned zone_no);

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
    const qk_period p = (qk_period)w->period;
    const uint32_t every = qk__window_every(w);
    w->start_ms = qk__span_start(p, every, qk__span_offset(p, every, w->start_ms), now_ms);
    TEST_POINT(QK_TP_WINDOW_HALF_ROLLED, QK_TP_NO_SERVICE); /* state_procs: an open in between */
    w->end_ms = qk__span_end(p, every, w->start_ms);
    return 1;
}

#endif
