#include "window.h"

uint64_t qk__threshold_count(uint64_t limit, unsigned pct)
{
    /* pct*limit/100 split as pct*(limit/100) + pct*(limit%100)/100 so nothing overflows. */
    const uint64_t q = limit / 100, r = limit % 100;
    return pct * q + (pct * r + 99) / 100;
}

void qk__window_init(qk_window *w, qk_period period, uint64_t limit, unsigned warn_pct,
                     unsigned critical_pct, int64_t now_ms)
{
    w->used = 0;
    w->period = (uint8_t)period;
    w->limit = limit;
    w->warn_at = qk__threshold_count(limit, warn_pct);
    w->critical_at = qk__threshold_count(limit, critical_pct);
    w->start_ms = qk__period_start(period, now_ms);
    w->end_ms = qk__period_end(period, w->start_ms);
    w->level = (uint8_t)qk__window_level(w, 0);
}
