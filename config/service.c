/* The keys of a [service NAME] section, and the checks between them once it has ended. */
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

static int window_key(qk__config_parse *p, qk_period period, const char *key, const char *value,
                      unsigned line)
{
    qk__config_service *s = current(p);
    if (s->period_line[period] != 0)
        return duplicate(p, line, key, s->period_line[period]);
    uint64_t limit;
    const char *why = qk__config_count(value, &limit);
    if (why != NULL)
        return bad_value(p, line, key, value, why);
    if (limit == 0)
        return bad_value(p, line, key, value,
                         "a limit of 0 would refuse every call (leave the key out for no window)");
    unsigned n = 0;
    while (n < QK_MAX_WINDOWS && s->def.windows[n].limit != 0)
        n++;
    if (n == QK_MAX_WINDOWS)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "%s: more than %d windows in [service %s]", key,
                                      QK_MAX_WINDOWS, s->name);
    s->def.windows[n] = (qk_window_def){.period = period, .limit = limit};
    s->period_line[period] = line;
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
    qk_period period;
    if (qk__config_period(key, &period))
        return window_key(p, period, key, value, line);

    unsigned k = 0;
    while (k < QK__SERVICE_KEYS && strcmp(key, key_names[k]) != 0)
        k++;
    if (k == QK__SERVICE_KEYS)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "unknown key '%s' in [service %s] (expected minute, hour, "
                                      "day, month, forever, warn, critical, reserve, outage or "
                                      "lease_max)",
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
                (unsigned long long)s->def.reserve, qk__config_period_name(w->period),
                (unsigned long long)w->limit, s->period_line[w->period]);
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
    return check_thresholds(p, s) && check_reserve(p, s);
}
