/* The keys of a [service NAME] section, and the checks between them once it has ended. */
#include <stdio.h>
#include <string.h>

#include "config_impl.h"
#include "values.h"

static const char *const key_names[QK__SERVICE_KEYS] = {
    [QK__KEY_WARN] = "warn",     [QK__KEY_CRITICAL] = "critical",   [QK__KEY_RESERVE] = "reserve",
    [QK__KEY_OUTAGE] = "outage", [QK__KEY_LEASE_MAX] = "lease_max",
};

static qk__config_service *current(qk__config_parse *p)
{
    return &p->cfg->services[p->cfg->n_services - 1];
}

static int bad_value(qk__config_parse *p, unsigned line, const char *key, const char *value,
                     const char *why)
{
    return qk__config_problem_set(&p->problem, QK_EINVAL, line, "%s = '%s': %s", key, value, why);
}

static int duplicate(qk__config_parse *p, unsigned line, const char *key, unsigned first)
{
    return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                  "duplicate key '%s' in [service %s] (first at line %u)", key,
                                  current(p)->name, first);
}

static int same_shape(const qk_window_def *a, const qk_window_def *b)
{
    const unsigned ea = a->every > 1 ? a->every : 1, eb = b->every > 1 ? b->every : 1;
    return a->period == b->period && ea == eb && a->flags == b->flags;
}

/* A window key: its shape from the key, its limit, offset and zone from the value. Two keys of
 * one shape (period, every, rolling) are a duplicate, whatever their offsets or zones. */
static int window_key(qk__config_parse *p, const qk_window_def *shape, const char *key,
                      const char *value, unsigned line)
{
    qk__config_service *s = current(p);
    unsigned n = 0;
    while (n < QK_MAX_WINDOWS && s->def.windows[n].limit != 0) {
        if (same_shape(&s->def.windows[n], shape))
            return duplicate(p, line, key, s->window_line[n]);
        n++;
    }
    qk_window_def w = *shape;
    char tz[QK_NAME_MAX], why_buf[256];
    const char *why = qk__config_window_value(value, &w, tz, sizeof tz, why_buf, sizeof why_buf);
    if (why != NULL)
        return bad_value(p, line, key, value, why);
    if (w.limit == 0)
        return bad_value(p, line, key, value,
                         "a limit of 0 would refuse every call (leave the key out for no window)");
    if (n == QK_MAX_WINDOWS)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "%s: more than %d windows in [service %s]", key,
                                      QK_MAX_WINDOWS, s->name);
    s->def.windows[n] = w;
    s->window_line[n] = line;
    snprintf(s->window_key[n], sizeof s->window_key[n], "%s", key);
    memcpy(s->window_tz[n], tz, sizeof tz);
    return 1;
}

static int percent_key(qk__config_parse *p, const char *key, const char *value, unsigned line,
                       uint8_t *out)
{
    uint64_t pct;
    const char *why = qk__config_count(value, &pct);
    if (why == NULL && (pct == 0 || pct > 100))
        why = pct == 0 ? "a percentage from 1 to 100 (0 is not one)" : "a percentage above 100";
    if (why != NULL)
        return bad_value(p, line, key, value, why);
    *out = (uint8_t)pct;
    return 1;
}

int qk__config_service_key(qk__config_parse *p, const char *key, const char *value, unsigned line)
{
    qk__config_service *s = current(p);
    qk_window_def shape = {0};
    char why_key[256];
    const int is_window = qk__config_window_key(key, &shape, why_key, sizeof why_key);
    if (is_window < 0)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line, "%s", why_key);
    if (is_window > 0)
        return window_key(p, &shape, key, value, line);

    unsigned k = 0;
    while (k < QK__SERVICE_KEYS && strcmp(key, key_names[k]) != 0)
        k++;
    if (k == QK__SERVICE_KEYS)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "unknown key '%s' in [service %s] (expected a window: "
                                      "second, minute, hour, day, week, month, forever or "
                                      "N UNITs; or warn, critical, reserve, outage or lease_max)",
                                      key, s->name);
    if (s->key_line[k] != 0)
        return duplicate(p, line, key, s->key_line[k]);

    const char *why = NULL;
    switch ((qk__service_key)k) {
    case QK__KEY_WARN:
        if (!percent_key(p, key, value, line, &s->def.warn_pct))
            return 0;
        break;
    case QK__KEY_CRITICAL:
        if (!percent_key(p, key, value, line, &s->def.critical_pct))
            return 0;
        break;
    case QK__KEY_RESERVE:
        why = qk__config_count(value, &s->def.reserve);
        break;
    case QK__KEY_OUTAGE:
        why = qk__config_outage(value, &s->def.outage);
        break;
    case QK__KEY_LEASE_MAX:
        why = qk__config_count(value, &s->def.lease_max);
        break;
    case QK__SERVICE_KEYS:
        break;
    }
    if (why != NULL)
        return bad_value(p, line, key, value, why);
    s->key_line[k] = line;
    return 1;
}

/* The defaults the core applies to a percentage left at 0. */
enum { DEFAULT_WARN = 50, DEFAULT_CRITICAL = 80 };

static int check_thresholds(qk__config_parse *p, const qk__config_service *s)
{
    const unsigned warn = s->def.warn_pct != 0 ? s->def.warn_pct : DEFAULT_WARN;
    const unsigned critical = s->def.critical_pct != 0 ? s->def.critical_pct : DEFAULT_CRITICAL;
    if (warn <= critical)
        return 1;
    const unsigned warn_line = s->key_line[QK__KEY_WARN];
    const unsigned critical_line = s->key_line[QK__KEY_CRITICAL];
    if (warn_line == 0)
        return qk__config_problem_set(&p->problem, QK_EINVAL, critical_line,
                                      "critical = %u is below warn, %u when not given", critical,
                                      warn);
    if (critical_line == 0)
        return qk__config_problem_set(&p->problem, QK_EINVAL, warn_line,
                                      "warn = %u is above critical, %u when not given", warn,
                                      critical);
    return qk__config_problem_set(&p->problem, QK_EINVAL, warn_line,
                                  "warn = %u is above critical = %u (line %u)", warn, critical,
                                  critical_line);
}

static int check_reserve(qk__config_parse *p, const qk__config_service *s)
{
    for (unsigned i = 0; i < QK_MAX_WINDOWS && s->def.windows[i].limit != 0; i++) {
        const qk_window_def *w = &s->def.windows[i];
        if (s->def.reserve >= w->limit)
            return qk__config_problem_set(
                &p->problem, QK_EINVAL, s->key_line[QK__KEY_RESERVE],
                "reserve = %llu is not below %s = %llu (line %u): a reserve must leave calls "
                "for every caller",
                (unsigned long long)s->def.reserve, s->window_key[i], (unsigned long long)w->limit,
                s->window_line[i]);
    }
    return 1;
}

/* The core's own check of each window (qk_tracker_new on a tracker in memory, no file and no
 * store), so that what the file reader accepts but this build of the core refuses (a rolling
 * month, an offset on a rolling window, an unknown zone) is refused here, at the window's line, in
 * the core's words. Without the store, a rolling or zoned window the file's store would refuse
 * passes and is refused at the program's qk_tracker_new (docs/config.md): this check stays offline.
 * Windows are added one at a time, so that the first the core refuses is the one named. */
static int check_with_core(qk__config_parse *p, const qk__config_service *s)
{
    qk_service_def def = s->def;
    def.name = s->name;
    for (unsigned i = 0; i < QK_MAX_WINDOWS; i++) {
        def.windows[i].tz = s->window_tz[i][0] != '\0' ? s->window_tz[i] : NULL;
        def.windows[i].limit = 0;
    }
    for (unsigned i = 0; i < QK_MAX_WINDOWS && s->def.windows[i].limit != 0; i++) {
        def.windows[i].limit = s->def.windows[i].limit;
        qk_options opts = QK_OPTIONS_INIT;
        opts.services = &def;
        opts.n_services = 1;
        qk_tracker *t = NULL;
        const int rc = qk_tracker_new(&t, &opts);
        if (rc == QK_OK) {
            qk_tracker_free(t);
            continue;
        }
        if (rc == QK_ENOMEM)
            return qk__config_problem_set(&p->problem, QK_ENOMEM, 0, "out of memory");
        return qk__config_problem_set(&p->problem, rc, s->window_line[i], "%s: %s",
                                      s->window_key[i], qk_errmsg());
    }
    return 1;
}

int qk__config_service_done(qk__config_parse *p)
{
    const qk__config_service *s = current(p);
    if (s->def.windows[0].limit == 0)
        return qk__config_problem_set(&p->problem, QK_EINVAL, s->line,
                                      "[service %s] has no window (give at least one of minute, "
                                      "hour, day, month or forever)",
                                      s->name);
    return check_thresholds(p, s) && check_reserve(p, s) && check_with_core(p, s);
}
