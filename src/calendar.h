/* UTC calendar arithmetic: where a window of a given period starts and ends. */
#ifndef QK_CALENDAR_H
#define QK_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#include "quotakeeper.h"

bool qk__period_valid(int period);
/* Start of the calendar period containing now_ms (INT64_MIN for QK_FOREVER). */
int64_t qk__period_start(qk_period period, int64_t now_ms);
/* End (exclusive) of the period that starts at start_ms; QK_NEVER when past the int64 range. */
int64_t qk__period_end(qk_period period, int64_t start_ms);

/* The system clock, in ms since the epoch (CLOCK_REALTIME_COARSE): the default clock, with the
 * signature of qk_options.clock. */
int64_t qk__system_clock_ms(void *ctx);

#endif
