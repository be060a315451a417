#include <string.h>

#include "ring.h"
#include "window.h"

uint64_t qk__threshold_count(uint64_t limit, unsigned pct)
{
    /* pct*limit/100 split as pct*(limit/100) + pct*(limit%100)/100 so nothing overflows. */
    const uint64_t q = limit / 100, r = limit % 100;
    return pct * q + (pct * r + 99) / 100;
}

void qk__window_init(qk_window *w, const qk_window_def *def, unsigned warn_pct,
                     unsigned critical_pct, int64_t now_ms, const struct qk__zone *z,
                     unsigned zone_no)
{
    memset(w, 0, sizeof *w); /* the seal reads every byte's field; no stray padding */
    const uint32_t every = def->every ? def->every : 1;
    w->period = (uint8_t)def->period;
    w->every_m1 = every - 1;
    w->flags = (uint8_t)def->flags;
    w->limit = def->limit;
    w->warn_at = qk__threshold_count(def->limit, warn_pct);
    w->critical_at = qk__threshold_count(def->limit, critical_pct);
    if (def->flags & QK_WINDOW_ROLLING) {
        qk__ring_bounds(w, now_ms); /* its buckets are the caller's (slot.c) */
    } else if (z != NULL) {
        w->zone = (uint8_t)zone_no;
        qk__span_zoned(z, def->period, every, now_ms, &w->start_ms, &w->end_ms);
    } else {
        w->start_ms = qk__span_start(def->period, every, def->offset_ms, now_ms);
        w->end_ms = qk__span_end(def->period, every, w->start_ms);
    }
    w->level = (uint8_t)qk__window_level(w, 0);
}

int qk__window_same_shape(const qk_window *w, const qk_window_def *def, unsigned zone_no)
{
    const uint32_t every = def->every ? def->every : 1;
    if (w->period != (uint8_t)def->period || qk__window_every(w) != every ||
        w->flags != def->flags || w->zone != zone_no)
        return 0;
    /* Neither a rolling window (its bounds follow its buckets) nor a zoned one (local midnights)
     * has an offset. */
    return (w->flags & QK_WINDOW_ROLLING) || w->zone != 0 ||
           qk__span_offset(def->period, every, w->start_ms) == def->offset_ms;
}
