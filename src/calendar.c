/* UTC calendar arithmetic. The day/civil conversions are Howard Hinnant's
 * days_from_civil/civil_from_days (proleptic Gregorian, exact for negative years too). */
#include "calendar.h"

#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR   INT64_C(3600000)
#define MS_PER_DAY    INT64_C(86400000)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = floor_div(y, 400);
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
    z += 719468;
    const int64_t era = floor_div(z, 146097);
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

bool qk__period_valid(int period)
{
    return period >= QK_MINUTE && period <= QK_WEEK;
}

int64_t qk__unit_ms(qk_period period)
{
    switch (period) {
    case QK_SECOND:
        return 1000;
    case QK_MINUTE:
        return MS_PER_MINUTE;
    case QK_HOUR:
        return MS_PER_HOUR;
    case QK_DAY:
        return MS_PER_DAY;
    case QK_WEEK:
        return 7 * MS_PER_DAY;
    default:
        return 0;
    }
}

/* days * MS_PER_DAY or q * len, saturated at INT64_MIN: a clock near the bottom of the range
 * (nearly 300 million years BC) gets the earliest representable window instead of a wrap. */
static int64_t mul_or_min(int64_t q, int64_t len)
{
    return q < INT64_MIN / len ? INT64_MIN : q * len;
}

static int64_t add_or_never(int64_t start, int64_t len)
{
    return start > QK_NEVER - len ? QK_NEVER : start + len;
}

/* a - b, saturated at either end of the range. */
static int64_t sub_or_min(int64_t a, int64_t b)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return d;
}

/* ISO weeks start on Mondays: the first one at or before the epoch (a Thursday) is 1969-12-29. */
#define WEEK_ORIGIN_MS (-3 * MS_PER_DAY)

static int64_t origin_ms(qk_period period)
{
    return period == QK_WEEK ? WEEK_ORIGIN_MS : 0;
}

/* Months since 1970-01 of the month that contains t, and back. */
static int64_t month_index(int64_t t)
{
    int64_t y;
    unsigned m;
    civil_from_days(floor_div(t, MS_PER_DAY), &y, &m);
    return (y - 1970) * 12 + (int64_t)m - 1;
}

static int64_t month_ms(int64_t index)
{
    const int64_t days = days_from_civil(1970 + floor_div(index, 12),
                                         (unsigned)(index - floor_div(index, 12) * 12) + 1, 1);
    if (days > QK_NEVER / MS_PER_DAY)
        return QK_NEVER;
    return mul_or_min(days, MS_PER_DAY);
}

/* Start of the window of `every` months (aligned to multiples of every from 1970-01) that
 * contains t, without an offset. */
static int64_t months_start(uint32_t every, int64_t t)
{
    return month_ms(floor_div(month_index(t), every) * every);
}

int64_t qk__span_start(qk_period period, uint32_t every, int64_t offset_ms, int64_t now_ms)
{
    if (every == 0)
        every = 1;
    const int64_t t = sub_or_min(now_ms, offset_ms);
    if (period == QK_MONTH) {
        const int64_t start = months_start(every, t);
        return start == INT64_MIN ? start : add_or_never(start, offset_ms);
    }
    const int64_t unit = qk__unit_ms(period);
    if (unit == 0) /* QK_FOREVER */
        return INT64_MIN;
    const int64_t len = unit * (int64_t)every, o = origin_ms(period);
    const int64_t start = mul_or_min(floor_div(sub_or_min(t, o), len), len);
    if (start == INT64_MIN)
        return start;
    int64_t shifted;
    if (__builtin_add_overflow(start, o + offset_ms, &shifted))
        return o + offset_ms < 0 ? INT64_MIN : QK_NEVER;
    return shifted;
}

int64_t qk__span_offset(qk_period period, uint32_t every, int64_t start_ms)
{
    if (every == 0)
        every = 1;
    if (start_ms == INT64_MIN || start_ms == QK_NEVER)
        return 0;
    if (period == QK_MONTH) {
        const int64_t m = months_start(every, start_ms);
        return m == INT64_MIN || m == QK_NEVER ? 0 : start_ms - m;
    }
    const int64_t unit = qk__unit_ms(period);
    if (unit == 0)
        return 0;
    const int64_t len = unit * (int64_t)every, x = sub_or_min(start_ms, origin_ms(period));
    const int64_t r = x % len; /* a remainder, not floor_div * len: that overflows near the ends */
    return r < 0 ? r + len : r;
}

int64_t qk__span_end(qk_period period, uint32_t every, int64_t start_ms)
{
    if (every == 0)
        every = 1;
    if (period == QK_MONTH) {
        const int64_t off = qk__span_offset(period, every, start_ms);
        const int64_t next = month_ms(month_index(start_ms - off) + every);
        return next == QK_NEVER ? next : add_or_never(next, off);
    }
    const int64_t unit = qk__unit_ms(period);
    if (unit == 0)
        return QK_NEVER;
    return add_or_never(start_ms, unit * (int64_t)every);
}

int64_t qk__span_min_length_ms(qk_period period, uint32_t every)
{
    if (every == 0)
        every = 1;
    /* A week times UINT32_MAX fits in int64; 28 days times it does not. */
    if (period == QK_MONTH)
        return (int64_t)every > QK_NEVER / (28 * MS_PER_DAY) ? QK_NEVER
                                                             : 28 * MS_PER_DAY * (int64_t)every;
    return qk__unit_ms(period) * (int64_t)every;
}

uint32_t qk__span_every(qk_period period, int64_t start_ms, int64_t end_ms)
{
    if (start_ms == INT64_MIN || end_ms == QK_NEVER || end_ms <= start_ms)
        return 1;
    /* Start and end carry the same offset, below the shortest month: their months differ by
     * exactly every. */
    const int64_t n = period == QK_MONTH    ? month_index(end_ms) - month_index(start_ms)
                      : qk__unit_ms(period) ? (end_ms - start_ms) / qk__unit_ms(period)
                                            : 1;
    return n >= 1 && n <= UINT32_MAX ? (uint32_t)n : 1;
}

int64_t qk__period_start(qk_period period, int64_t now_ms)
{
    return qk__span_start(period, 1, 0, now_ms);
}

int64_t qk__period_end(qk_period period, int64_t start_ms)
{
    return qk__span_end(period, 1, start_ms);
}

int64_t qk__system_clock_ms(void *ctx)
{
    (void)ctx;
    return qk__system_now_ms();
}
