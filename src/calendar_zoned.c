/* Windows in a time zone (docs/windows.md, "Time zones"): a day, week or month window whose
 * boundaries are local midnights. The UTC calendar's spans (calendar.c) are computed on local
 * time, then each boundary is mapped back to the first UTC instant whose local time reaches it
 * (tz.c): a day lasts 23 or 25 hours across a DST change, and a midnight that falls in a gap
 * (clocks jump over it) begins the day at the jump. Pure: no locks, no I/O. */
#include "calendar.h"
#include "tz.h"

static int64_t local_of(const qk__zone *z, int64_t utc_ms)
{
    int64_t local;
    if (__builtin_add_overflow(utc_ms, (int64_t)qk__tz_offset_s(z, utc_ms) * 1000, &local))
        return utc_ms < 0 ? INT64_MIN : INT64_MAX;
    return local;
}

void qk__span_zoned(const qk__zone *z, qk_period period, uint32_t every, int64_t now_ms,
                    int64_t *start, int64_t *end)
{
    const int64_t local_start = qk__span_start(period, every, 0, local_of(z, now_ms));
    int64_t local_end = qk__span_end(period, every, local_start);
    *start = qk__tz_utc_of_local(z, local_start);
    *end = local_end == QK_NEVER ? QK_NEVER : qk__tz_utc_of_local(z, local_end);
    /* The first instant at or past the local start is at or before now (now's own local time is
     * past it). The end can be at or before now only when the clocks fell back across it: now is
     * in the repeated hour, and counts in the next window. */
    if (*end <= now_ms && *end != QK_NEVER) {
        *start = *end;
        local_end = qk__span_end(period, every, local_end);
        *end = local_end == QK_NEVER ? QK_NEVER : qk__tz_utc_of_local(z, local_end);
    }
}
