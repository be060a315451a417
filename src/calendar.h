/* UTC calendar arithmetic: where a window of a given period starts and ends. */
#ifndef QK_CALENDAR_H
#define QK_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "quotakeeper.h"

bool qk__period_valid(int period);
/* A second to a week in ms; 0 for QK_MONTH and QK_FOREVER. */
int64_t qk__unit_ms(qk_period period);

/* A fixed window's span: `every` periods (0 means 1), its boundaries offset_ms later than the
 * aligned ones (docs/windows.md). Windows of a second to a week are aligned to multiples of their
 * length from the epoch (weeks from Monday 1969-12-29), months of every N to multiples of N
 * months from 1970-01. The offset is not stored: a window's start implies it (span_offset). */
int64_t qk__span_start(qk_period period, uint32_t every, int64_t offset_ms, int64_t now_ms);
/* End (exclusive) of the window that starts at start_ms; QK_NEVER past the int64 range. */
int64_t qk__span_end(qk_period period, uint32_t every, int64_t start_ms);
/* The offset a window that starts at start_ms has (0 <= offset < its shortest length). */
int64_t qk__span_offset(qk_period period, uint32_t every, int64_t start_ms);
/* The every of a fixed window with these bounds (1 for QK_FOREVER and saturated bounds). */
uint32_t qk__span_every(qk_period period, int64_t start_ms, int64_t end_ms);
/* The shortest a window of this shape can be: its length, or every x 28 days for months. */
int64_t qk__span_min_length_ms(qk_period period, uint32_t every);

/* A day, week or month window of `every` periods in zone z (tz.h): its [start, end) around
 * now_ms, the local midnights of the UTC calendar's span on local time, mapped to UTC (the
 * first instant whose local time reaches each). */
struct qk__zone;
void qk__span_zoned(const struct qk__zone *z, qk_period period, uint32_t every, int64_t now_ms,
                    int64_t *start, int64_t *end);

/* Start of the calendar period containing now_ms (INT64_MIN for QK_FOREVER). */
int64_t qk__period_start(qk_period period, int64_t now_ms);
/* End (exclusive) of the period that starts at start_ms; QK_NEVER when past the int64 range. */
int64_t qk__period_end(qk_period period, int64_t start_ms);

/* The system clock, in ms since the epoch. The coarse clock costs a tenth of the precise one and
 * its few milliseconds of resolution do not matter for windows of a second and more. Inline: the
 * private hot path reads it under the slot lock, and a call costs it five instructions. */
static inline int64_t qk__system_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same, with the signature of qk_options.clock: the default clock, which the tracker tells
 * from a caller's by its address. */
int64_t qk__system_clock_ms(void *ctx);

#endif
