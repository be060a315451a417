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
        if (!qk__period_valid((int)def->windows[i].period))
            return qk__fail(QK_EINVAL, "service '%s': window %u has unknown period %d", def->name,
                            i, (int)def->windows[i].period);
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

int qk__service_def_read(qk__checked_def *out, const void *defs, size_t i, unsigned api_version)
{
    qk_service_def def = {0};
    if (api_version >= 3) {
        def = ((const qk_service_def *)defs)[i];
    } else {
        const qk__service_def_v2 *old = &((const qk__service_def_v2 *)defs)[i];
        def.name = old->name;
        memcpy(def.windows, old->windows, sizeof def.windows);
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
