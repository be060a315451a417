/* An independent UTC calendar oracle: counts days year by year, sharing no code with
 * src/calendar.c, so a test comparing the two checks the library's arithmetic. */
#ifndef QKT_UTC_H
#define QKT_UTC_H

#include <stdbool.h>
#include <stdint.h>

bool qkt_is_leap(int64_t year);

/* Days in month m (1..12) of year y. */
int qkt_month_days(int64_t y, int m);

/* Days from 1970-01-01 to y-m-d (negative before). */
int64_t qkt_days(int64_t y, int m, int d);

/* Milliseconds since the epoch of y-m-d h:mi:s.ms UTC. */
int64_t qkt_utc(int64_t y, int m, int d, int h, int mi, int s, int ms);

#endif
