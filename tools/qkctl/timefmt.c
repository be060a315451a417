/* Time and name formatting (timefmt.h). */
#include "timefmt.h"

#include <stdio.h>
#include <time.h>

const char *qkctl_iso8601(int64_t ms, char *buf)
{
    if (ms == QK_NEVER) {
        snprintf(buf, 32, "never");
        return buf;
    }
    /* Floor division: a time before 1970 still lands on its own second. */
    const time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 32, "@%lld", (long long)secs);
    return buf;
}

const char *qkctl_duration(int64_t now_ms, int64_t then_ms, char *buf)
{
    if (then_ms == QK_NEVER) {
        snprintf(buf, 32, "never");
        return buf;
    }
    if (then_ms <= now_ms) {
        snprintf(buf, 32, "now");
        return buf;
    }
    const int64_t s = (then_ms - now_ms + 999) / 1000;
    if (s < 60)
        snprintf(buf, 32, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, 32, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, 32, "%lldh %02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, 32, "%lldd %02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    return buf;
}

const char *qkctl_period_name(qk_period p)
{
    switch (p) {
    case QK_MINUTE:
        return "minute";
    case QK_HOUR:
        return "hour";
    case QK_DAY:
        return "day";
    case QK_MONTH:
        return "month";
    case QK_FOREVER:
        return "forever";
    case QK_SECOND:
        return "second";
    case QK_WEEK:
        return "week";
    }
    return "unknown";
}
