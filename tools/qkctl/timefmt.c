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

enum { S_MS = 1000, M_MS = 60 * S_MS, H_MS = 60 * M_MS, D_MS = 24 * H_MS };

static unsigned every_of(const qk_window_def *w)
{
    return w->every > 1 ? w->every : 1;
}

int64_t qkctl_window_length_ms(const qk_window_def *w)
{
    static const int64_t ms[] = {[QK_MINUTE] = M_MS,
                                 [QK_HOUR] = H_MS,
                                 [QK_DAY] = D_MS,
                                 [QK_MONTH] = 0,
                                 [QK_FOREVER] = 0,
                                 [QK_SECOND] = S_MS,
                                 [QK_WEEK] = 7 * (int64_t)D_MS};
    if ((unsigned)w->period >= sizeof ms / sizeof ms[0] || w->tz != NULL)
        return 0; /* a zoned day lasts 23 or 25 hours across DST: no fixed length */
    return (int64_t)every_of(w) * ms[w->period];
}

/* The offset as the config file writes it after @ (quotakeeper.ini(5)). */
static void offset_text(const qk_window_def *w, char *buf, size_t len, char space)
{
    static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    int64_t ms = w->offset_ms;
    int n = 0;
    buf[0] = '\0';
    if (w->period == QK_WEEK && ms / D_MS < 7) {
        n = snprintf(buf, len, "%s%c", days[ms / D_MS], space);
        ms %= D_MS;
    } else if (w->period == QK_MONTH) {
        const int64_t d = ms / D_MS + 1;
        const char *sfx = d % 10 == 1 && d != 11   ? "st"
                          : d % 10 == 2 && d != 12 ? "nd"
                          : d % 10 == 3 && d != 13 ? "rd"
                                                   : "th";
        ms %= D_MS;
        n = snprintf(buf, len, "%lld%s", (long long)d, sfx);
        if (ms == 0)
            return;
        n += snprintf(buf + n, len - (size_t)n, "%c", space);
    } else if (ms >= D_MS) {
        snprintf(buf, len, "+%llds", (long long)(ms / 1000));
        return;
    }
    const long long h = ms / H_MS, m = ms % H_MS / M_MS, sec = ms % M_MS / S_MS;
    if (h == 0 && w->period != QK_DAY && w->period != QK_WEEK && w->period != QK_MONTH)
        n += snprintf(buf + n, len - (size_t)n, ":%02lld", m);
    else
        n += snprintf(buf + n, len - (size_t)n, "%02lld:%02lld", h, m);
    if (sec != 0)
        snprintf(buf + n, len - (size_t)n, ":%02lld", sec);
}

const char *qkctl_shape_text(const qk_window_def *w, char *buf)
{
    const char *name = qkctl_period_name(w->period);
    const size_t len = QKCTL_SHAPE_MAX;
    int n = snprintf(buf, len, "%s", (w->flags & QK_WINDOW_ROLLING) ? "rolling " : "");
    if (every_of(w) > 1)
        n += snprintf(buf + n, len - (size_t)n, "%u %ss", every_of(w), name);
    else
        n += snprintf(buf + n, len - (size_t)n, "%s", name);
    if (w->offset_ms != 0) {
        char off[40];
        offset_text(w, off, sizeof off, ' ');
        n += snprintf(buf + n, len - (size_t)n, " @%s", off);
    }
    if (w->tz != NULL) /* the INI file's words: "day = 1000 tz America/Los_Angeles" */
        snprintf(buf + n, len - (size_t)n, " tz %s", w->tz);
    return buf;
}

const char *qkctl_shape_label(const qk_window_def *w, char *buf)
{
    static const char *const unit[] = {
        [QK_MINUTE] = "m", [QK_HOUR] = "h",   [QK_DAY] = "d", [QK_MONTH] = "mo",
        [QK_FOREVER] = "", [QK_SECOND] = "s", [QK_WEEK] = "w"};
    const size_t len = QKCTL_SHAPE_MAX;
    if (w->period == QK_FOREVER || (unsigned)w->period >= sizeof unit / sizeof unit[0]) {
        snprintf(buf, len, "%s", qkctl_period_name(w->period));
        return buf;
    }
    int n = snprintf(buf, len, "%s%u%s", (w->flags & QK_WINDOW_ROLLING) ? "r" : "", every_of(w),
                     unit[w->period]);
    if (w->offset_ms != 0) {
        char off[40];
        offset_text(w, off, sizeof off, '_');
        n += snprintf(buf + n, len - (size_t)n, "@%s", off);
    }
    if (w->tz != NULL)
        snprintf(buf + n, len - (size_t)n, " %s", w->tz);
    return buf;
}
