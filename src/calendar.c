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
    return period >= QK_MINUTE && period <= QK_FOREVER;
}

/* days * MS_PER_DAY or q * len, saturated at INT64_MIN: a clock near the bottom of the range
 * (nearly 300 million years BC) gets the earliest representable window instead of a wrap. */
static int64_t mul_or_min(int64_t q, int64_t len)
{
    return q < INT64_MIN / len ? INT64_MIN : q * len;
}

static int64_t align(int64_t now_ms, int64_t len)
{
    return mul_or_min(floor_div(now_ms, len), len);
}

int64_t qk__period_start(qk_period period, int64_t now_ms)
{
    switch (period) {
    case QK_MINUTE:
        return align(now_ms, MS_PER_MINUTE);
    case QK_HOUR:
        return align(now_ms, MS_PER_HOUR);
    case QK_DAY:
        return align(now_ms, MS_PER_DAY);
    case QK_MONTH: {
        int64_t y;
        unsigned m;
        civil_from_days(floor_div(now_ms, MS_PER_DAY), &y, &m);
        return mul_or_min(days_from_civil(y, m, 1), MS_PER_DAY);
    }
    case QK_FOREVER:
    default:
        return INT64_MIN;
    }
}

static int64_t add_or_never(int64_t start, int64_t len)
{
    return start > QK_NEVER - len ? QK_NEVER : start + len;
}

int64_t qk__period_end(qk_period period, int64_t start_ms)
{
    switch (period) {
    case QK_MINUTE:
        return add_or_never(start_ms, MS_PER_MINUTE);
    case QK_HOUR:
        return add_or_never(start_ms, MS_PER_HOUR);
    case QK_DAY:
        return add_or_never(start_ms, MS_PER_DAY);
    case QK_MONTH: {
        int64_t y;
        unsigned m;
        civil_from_days(floor_div(start_ms, MS_PER_DAY), &y, &m);
        const int64_t next = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
        return next > QK_NEVER / MS_PER_DAY ? QK_NEVER : next * MS_PER_DAY;
    }
    case QK_FOREVER:
    default:
        return QK_NEVER;
    }
}

int64_t qk__system_clock_ms(void *ctx)
{
    (void)ctx;
    return qk__system_now_ms();
}
