/* The values a key may take. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "values.h"

const char *qk__config_count(const char *value, uint64_t *out)
{
    if (value[0] == '\0')
        return "no value: expected a whole number";
    if (value[0] == '-')
        return "negative: expected a whole number from 0";
    uint64_t n = 0;
    for (const char *c = value; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return "not a whole number: only the digits 0-9 may be written";
        const uint64_t digit = (uint64_t)(*c - '0');
        if (n > (UINT64_MAX - digit) / 10)
            return "too large: the most is 18446744073709551615";
        n = n * 10 + digit;
    }
    *out = n;
    return NULL;
}

static const char *const period_names[] = {
    [QK_MINUTE] = "minute",   [QK_HOUR] = "hour",     [QK_DAY] = "day",   [QK_MONTH] = "month",
    [QK_FOREVER] = "forever", [QK_SECOND] = "second", [QK_WEEK] = "week",
};

int qk__config_period(const char *key, qk_period *out)
{
    for (unsigned p = 0; p < sizeof period_names / sizeof period_names[0]; p++) {
        if (strcmp(key, period_names[p]) == 0) {
            *out = (qk_period)p;
            return 1;
        }
    }
    return 0;
}

const char *qk__config_period_name(qk_period period)
{
    return (unsigned)period < sizeof period_names / sizeof period_names[0] ? period_names[period]
                                                                           : "unknown";
}

const char *qk__config_outage(const char *value, qk_outage *out)
{
    static const struct {
        const char *name;
        qk_outage outage;
    } policies[] = {
        {"safe", QK_OUTAGE_SAFE}, {"closed", QK_OUTAGE_CLOSED}, {"open", QK_OUTAGE_OPEN}};
    for (unsigned i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        if (strcmp(value, policies[i].name) == 0) {
            *out = policies[i].outage;
            return NULL;
        }
    }
    return "unknown outage policy: expected safe, closed or open";
}

enum {
    SECOND_MS = 1000,
    MINUTE_MS = 60 * SECOND_MS,
    HOUR_MS = 60 * MINUTE_MS,
    DAY_MS = 24 * HOUR_MS
};

static const int64_t period_ms[] = {
    [QK_MINUTE] = MINUTE_MS, [QK_HOUR] = HOUR_MS,     [QK_DAY] = DAY_MS,      [QK_MONTH] = 0,
    [QK_FOREVER] = 0,        [QK_SECOND] = SECOND_MS, [QK_WEEK] = 7 * DAY_MS,
};

/* Splits text at spaces and tabs into at most max words (copied into buf); returns the count,
 * or max + 1 when there are more. */
static unsigned split(const char *text, char *buf, size_t buf_len, char **words, unsigned max)
{
    snprintf(buf, buf_len, "%s", text);
    unsigned n = 0;
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w != NULL;
         w = strtok_r(NULL, " \t", &save)) {
        if (n == max)
            return max + 1;
        words[n++] = w;
    }
    return n;
}

static int all_digits(const char *w)
{
    if (*w == '\0')
        return 0;
    for (; *w != '\0'; w++)
        if (*w < '0' || *w > '9')
            return 0;
    return 1;
}

static int unit(const char *w, int plural_ok, qk_period *out)
{
    if (qk__config_period(w, out))
        return 1;
    const size_t len = strlen(w);
    char singular[16];
    if (!plural_ok || len < 2 || len >= sizeof singular || w[len - 1] != 's')
        return 0;
    memcpy(singular, w, len - 1);
    singular[len - 1] = '\0';
    return qk__config_period(singular, out) && *out != QK_FOREVER;
}

int qk__config_window_key(const char *key, qk_window_def *out, char *why, size_t why_len)
{
    char buf[128], *words[5];
    const unsigned n = split(key, buf, sizeof buf, words, 4);
    unsigned i = 0, rolling = 0, every_word = 0;
    if (i < n && n <= 4 && strcmp(words[i], "rolling") == 0)
        rolling = 1, i++;
    if (i < n && n <= 4 && strcmp(words[i], "every") == 0)
        every_word = 1, i++;
    const int counted = i < n && n <= 4 && all_digits(words[i]);
    if (!rolling && !every_word && !counted)
        return n == 1 && unit(words[0], 0, &out->period) ? 1 : 0;
    unsigned long every = 1;
    if (counted) {
        errno = 0;
        every = strtoul(words[i++], NULL, 10);
        if (errno != 0 || every > 1000000) {
            snprintf(why, why_len, "%s: a window of more than 1000000 periods", key);
            return -1;
        }
    } else if (every_word) {
        snprintf(why, why_len, "%s: 'every' needs a count: every N UNIT, e.g. every 15 minutes",
                 key);
        return -1;
    }
    if (n > 4 || i + 1 != n) {
        snprintf(why, why_len,
                 "%s: a window key is [rolling] [N] UNIT, e.g. minute, 15 minutes, rolling "
                 "10 seconds",
                 key);
        return -1;
    }
    if (!unit(words[i], counted, &out->period)) {
        snprintf(why, why_len,
                 "%s: unknown unit '%s' (expected second, minute, hour, day, week, month or "
                 "forever)",
                 key, words[i]);
        return -1;
    }
    if (every == 0) {
        snprintf(why, why_len, "%s: a window of 0 %ss (every must be 1 or more)", key,
                 period_names[out->period]);
        return -1;
    }
    if (out->period == QK_FOREVER && every != 1) {
        snprintf(why, why_len, "%s: forever has no length to repeat", key);
        return -1;
    }
    out->every = (unsigned)every;
    out->flags = rolling ? QK_WINDOW_ROLLING : 0;
    return 1;
}

/* HH:MM, HH:MM:SS, :MM or :MM:SS as milliseconds; -1 when it is none of them. */
static int64_t clock_time(const char *w)
{
    unsigned h = 0, m = 0, sec = 0;
    int used = 0;
    if (w[0] == ':') {
        if (sscanf(w, ":%2u%n", &m, &used) != 1 ||
            (w[used] != '\0' && sscanf(w, ":%2u:%2u%n", &m, &sec, &used) != 2))
            return -1;
    } else if (sscanf(w, "%2u:%2u%n", &h, &m, &used) != 2 ||
               (w[used] != '\0' && sscanf(w, "%2u:%2u:%2u%n", &h, &m, &sec, &used) != 3)) {
        return -1;
    }
    for (const char *c = w; *c != '\0'; c++)
        if (*c != ':' && (*c < '0' || *c > '9'))
            return -1;
    if (w[used] != '\0' || h > 23 || m > 59 || sec > 59)
        return -1;
    return (int64_t)h * HOUR_MS + (int64_t)m * MINUTE_MS + (int64_t)sec * SECOND_MS;
}

static int weekday(const char *w)
{
    static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    for (int d = 0; d < 7; d++)
        if (strcmp(w, days[d]) == 0)
            return d;
    return -1;
}

/* 1st, 2nd, 3rd, 4th ... 28th; 0 when w is no ordinal. */
static unsigned ordinal(const char *w)
{
    unsigned d = 0;
    int used = 0;
    if (sscanf(w, "%2u%n", &d, &used) != 1 || w[0] < '0' || w[0] > '9')
        return 0;
    const char *suffix = w + used;
    const char *want = d % 10 == 1 && d != 11   ? "st"
                       : d % 10 == 2 && d != 12 ? "nd"
                       : d % 10 == 3 && d != 13 ? "rd"
                                                : "th";
    return strcmp(suffix, want) == 0 ? d : 0;
}

static const char *offset(char **words, unsigned n, const qk_window_def *w, int64_t *out, char *why,
                          size_t why_len)
{
    int64_t ms = 0;
    unsigned i = 0;
    if (n == 0)
        return "'@' needs an offset, e.g. @ 07:00, @ :30, @ wed 09:00, @ 5th";
    if (w->period == QK_FOREVER)
        return "an offset on forever (it has no boundaries to shift)";
    const int d = weekday(words[0]);
    unsigned mday = ordinal(words[0]);
    if (strcmp(words[0], "day") == 0 && n >= 2) {
        mday = all_digits(words[1]) && strlen(words[1]) <= 2 ? (unsigned)atoi(words[1]) : 0;
        if (mday == 0) {
            snprintf(why, why_len, "'day %s' is no day of the month (1 to 28)", words[1]);
            return why;
        }
        i = 2;
    } else if (d >= 0 || mday != 0) {
        i = 1;
    }
    if (d >= 0) {
        if (w->period != QK_WEEK)
            return "a weekday offset is for week windows";
        ms = (int64_t)d * DAY_MS;
    } else if (mday != 0) {
        if (w->period != QK_MONTH)
            return "a day-of-month offset is for month windows";
        if (mday > 28) {
            snprintf(why, why_len,
                     "day %u of the month: an offset goes up to the 28th (every month has one)",
                     mday);
            return why;
        }
        ms = (int64_t)(mday - 1) * DAY_MS;
    }
    if (i < n) {
        const int64_t t = clock_time(words[i]);
        if (t < 0) {
            snprintf(why, why_len,
                     "bad time '%s' (expected HH:MM or HH:MM:SS from 00:00 to 23:59:59, or :MM "
                     "for minutes past the hour)",
                     words[i]);
            return why;
        }
        ms += t;
        i++;
    }
    if (i < n) {
        snprintf(why, why_len, "unexpected '%s' after the offset", words[i]);
        return why;
    }
    const int64_t length = (int64_t)(w->every != 0 ? w->every : 1) * period_ms[w->period];
    if (length != 0 && ms >= length) {
        snprintf(why, why_len, "the offset (%lld s) is not below the window's length (%lld s)",
                 (long long)(ms / 1000), (long long)(length / 1000));
        return why;
    }
    *out = ms;
    return NULL;
}

const char *qk__config_window_value(const char *value, qk_window_def *w, char *tz, size_t tz_len,
                                    char *why, size_t why_len)
{
    char buf[512], *words[9];
    const unsigned n = split(value, buf, sizeof buf, words, 8);
    tz[0] = '\0';
    /* A plain count, or one followed by anything but @ or tz, reads as a count, so that the
     * message is the count's own ("not a whole number"). */
    if (n < 2 || n > 8 || (words[1][0] != '@' && strcmp(words[1], "tz") != 0))
        return qk__config_count(value, &w->limit);
    const char *bad = qk__config_count(words[0], &w->limit);
    if (bad != NULL)
        return bad;
    /* "@07:00" and "@ 07:00" alike: a glued @ becomes a word of its own. */
    char *rest[9];
    unsigned m = 0;
    for (unsigned i = 1; i < n; i++) {
        if (words[i][0] == '@' && words[i][1] != '\0') {
            rest[m++] = (char *)"@";
            rest[m++] = words[i] + 1;
        } else {
            rest[m++] = words[i];
        }
    }
    unsigned tz_at = m;
    for (unsigned i = 0; i < m; i++)
        if (strcmp(rest[i], "tz") == 0) {
            tz_at = i;
            break;
        }
    if (tz_at < m) {
        if (tz_at + 2 != m)
            return tz_at + 1 == m ? "'tz' needs a zone, e.g. tz America/Los_Angeles"
                                  : "'tz ZONE' goes last, and a zone is one word";
        if (strlen(rest[tz_at + 1]) >= tz_len) {
            snprintf(why, why_len, "zone name '%s' is longer than %zu characters", rest[tz_at + 1],
                     tz_len - 1);
            return why;
        }
        snprintf(tz, tz_len, "%s", rest[tz_at + 1]);
    }
    if (tz_at > 0 && strcmp(rest[0], "@") != 0) {
        snprintf(why, why_len, "unexpected '%s' (expected @ OFFSET or tz ZONE)", rest[0]);
        return why;
    }
    if (tz_at > 0)
        return offset(rest + 1, tz_at - 1, w, &w->offset_ms, why, why_len);
    return NULL;
}
