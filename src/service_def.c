#include <string.h>

#include "calendar.h"
#include "error.h"
#include "service_def.h"

size_t qk__name_bad_char(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const char c = name[i];
        const int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '.' || c == '-';
        if (!ok)
            return i;
    }
    return len;
}

static int check_name(const char *name)
{
    if (name == NULL)
        return qk__fail(QK_EINVAL, "service name is NULL");
    const size_t len = strnlen(name, QK_NAME_MAX);
    if (len == 0)
        return qk__fail(QK_EINVAL, "service name is empty");
    if (len == QK_NAME_MAX)
        return qk__fail(QK_EINVAL, "service name is longer than %d characters", QK_NAME_MAX - 1);
    const size_t bad = qk__name_bad_char(name, len);
    if (bad < len)
        return qk__fail(QK_EINVAL,
                        "service name '%s' has a character outside [A-Za-z0-9_.-] at %zu", name,
                        bad);
    return QK_OK;
}

static const char *const PERIOD_NAME[] = {"QK_MINUTE",  "QK_HOUR",   "QK_DAY", "QK_MONTH",
                                          "QK_FOREVER", "QK_SECOND", "QK_WEEK"};

/* A window's shape (docs/windows.md, "Validation"): one message per field, naming it. */
static int check_window(const char *svc, unsigned i, const qk_window_def *w)
{
    if (!qk__period_valid((int)w->period))
        return qk__fail(QK_EINVAL, "service '%s': window %u has unknown period %d", svc, i,
                        (int)w->period);
    const char *pn = PERIOD_NAME[w->period];
    if (w->period == QK_FOREVER && w->every > 1)
        return qk__fail(QK_EINVAL,
                        "service '%s': window %u: every %u on QK_FOREVER (it has no "
                        "length to repeat)",
                        svc, i, w->every);
    if (w->flags & ~(unsigned)QK_WINDOW_ROLLING)
        return qk__fail(QK_EINVAL, "service '%s': window %u: unknown flags bits 0x%x", svc, i,
                        w->flags & ~(unsigned)QK_WINDOW_ROLLING);
    if (w->offset_ms < 0)
        return qk__fail(QK_EINVAL, "service '%s': window %u: offset_ms %lld is negative", svc, i,
                        (long long)w->offset_ms);
    if (w->offset_ms != 0 && w->period == QK_FOREVER)
        return qk__fail(QK_EINVAL, "service '%s': window %u: offset_ms on QK_FOREVER", svc, i);
    const int64_t shortest = qk__span_min_length_ms(w->period, w->every);
    if (w->offset_ms != 0 && w->offset_ms >= shortest)
        return qk__fail(QK_EINVAL,
                        "service '%s': window %u: offset_ms %lld is not below the window's "
                        "%slength %lld ms",
                        svc, i, (long long)w->offset_ms, w->period == QK_MONTH ? "shortest " : "",
                        (long long)shortest);
    /* Whole seconds keep the state file's check of a window's bounds (region.c, window_ok). */
    if (w->offset_ms % 1000 != 0)
        return qk__fail(QK_EINVAL,
                        "service '%s': window %u: offset_ms %lld is not a whole number of seconds",
                        svc, i, (long long)w->offset_ms);
    if (w->flags & QK_WINDOW_ROLLING) {
        if (w->period == QK_MONTH || w->period == QK_FOREVER)
            return qk__fail(QK_EINVAL,
                            "service '%s': window %u: a rolling window of %s (a rolling window "
                            "has a fixed length: QK_SECOND to QK_WEEK, times every)",
                            svc, i, pn);
        if (w->offset_ms != 0)
            return qk__fail(QK_EINVAL,
                            "service '%s': window %u: offset_ms on a rolling window (it has no "
                            "boundaries to shift)",
                            svc, i);
        if (w->tz != NULL)
            return qk__fail(QK_EINVAL,
                            "service '%s': window %u: tz on a rolling window (it has no "
                            "midnights)",
                            svc, i);
        /* Keeps a bucket's bounds far inside int64 at any clock (ring.c). */
        if (shortest > INT64_C(1) << 50)
            return qk__fail(QK_EINVAL,
                            "service '%s': window %u: a rolling window of %u %s is too long "
                            "(at most 2^50 ms)",
                            svc, i, w->every, pn);
    }
    if (w->tz != NULL && w->period != QK_DAY && w->period != QK_WEEK && w->period != QK_MONTH)
        return qk__fail(QK_EINVAL,
                        "service '%s': window %u: tz on %s (a zone moves day, week and month "
                        "boundaries only; use offset_ms)",
                        svc, i, pn);
    if (w->tz != NULL && w->offset_ms != 0) /* QK_TZ_OFFSET_PENDING */
        return qk__fail(QK_EINVAL,
                        "service '%s': window %u: offset_ms with tz '%s': not in this build yet "
                        "(a zoned window turns at its local midnights)",
                        svc, i, w->tz);
    return QK_OK;
}

int qk__service_def_check(const qk_service_def *def)
{
    int rc = check_name(def->name);
    if (rc != QK_OK)
        return rc;
    unsigned n = 0;
    while (n < QK_MAX_WINDOWS && def->windows[n].limit != 0)
        n++;
    for (unsigned i = n; i < QK_MAX_WINDOWS; i++)
        if (def->windows[i].limit != 0)
            return qk__fail(QK_EINVAL,
                            "service '%s': window %u follows the list's end (window %u has "
                            "limit 0)",
                            def->name, i, n);
    if (n == 0)
        return qk__fail(QK_EINVAL, "service '%s' has no windows", def->name);
    for (unsigned i = 0; i < n; i++) {
        if ((rc = check_window(def->name, i, &def->windows[i])) != QK_OK)
            return rc;
        if (def->reserve >= def->windows[i].limit)
            return qk__fail(QK_EINVAL,
                            "service '%s': reserve %llu is not below window %u's limit %llu",
                            def->name, (unsigned long long)def->reserve, i,
                            (unsigned long long)def->windows[i].limit);
    }
    if (def->warn_pct > 100 || def->critical_pct > 100)
        return qk__fail(QK_EINVAL, "service '%s': a threshold is above 100%%", def->name);
    if (qk__warn_pct(def) > qk__critical_pct(def))
        return qk__fail(QK_EINVAL, "service '%s': warn %u%% is above critical %u%%", def->name,
                        qk__warn_pct(def), qk__critical_pct(def));
    if (def->outage != QK_OUTAGE_SAFE && def->outage != QK_OUTAGE_CLOSED &&
        def->outage != QK_OUTAGE_OPEN)
        return qk__fail(QK_EINVAL, "service '%s': unknown outage policy %d", def->name,
                        (int)def->outage);
    return (int)n;
}

static void window_defs_v3(qk_window_def *out, const qk__window_def_v3 *in)
{
    for (unsigned i = 0; i < QK_MAX_WINDOWS; i++)
        out[i] = (qk_window_def){.period = in[i].period, .limit = in[i].limit};
}

int qk__service_def_read(qk__checked_def *out, const void *defs, size_t i, unsigned api_version)
{
    qk_service_def def = {0};
    if (api_version >= 4) {
        def = ((const qk_service_def *)defs)[i];
    } else if (api_version == 3) {
        const qk__service_def_v3 *old = &((const qk__service_def_v3 *)defs)[i];
        def.name = old->name;
        window_defs_v3(def.windows, old->windows);
        def.warn_pct = old->warn_pct;
        def.critical_pct = old->critical_pct;
        def.reserve = old->reserve;
        def.outage = old->outage;
        def.lease_max = old->lease_max;
    } else {
        const qk__service_def_v2 *old = &((const qk__service_def_v2 *)defs)[i];
        def.name = old->name;
        window_defs_v3(def.windows, old->windows);
        def.warn_pct = old->warn_pct;
        def.critical_pct = old->critical_pct;
        def.reserve = old->reserve;
    }
    const int n = qk__service_def_check(&def);
    if (n < 0)
        return n;
    out->def = def;
    out->n_windows = (unsigned)n;
    return QK_OK;
}
