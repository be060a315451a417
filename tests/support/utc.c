#include "utc.h"

#include "clock.h"

bool qkt_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int qkt_month_days(int64_t y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && qkt_is_leap(y) ? 29 : md[m - 1];
}

int64_t qkt_days(int64_t y, int m, int d)
{
    int64_t days = 0;
    if (y >= 1970)
        for (int64_t yy = 1970; yy < y; yy++)
            days += qkt_is_leap(yy) ? 366 : 365;
    else
        for (int64_t yy = y; yy < 1970; yy++)
            days -= qkt_is_leap(yy) ? 366 : 365;
    for (int mm = 1; mm < m; mm++)
        days += qkt_month_days(y, mm);
    return days + d - 1;
}

int64_t qkt_utc(int64_t y, int m, int d, int h, int mi, int s, int ms)
{
    return qkt_days(y, m, d) * QKT_DAY + h * QKT_HOUR + mi * QKT_MIN + s * INT64_C(1000) + ms;
}
