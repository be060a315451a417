/* The values a key may take. */
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
    [QK_MINUTE] = "minute", [QK_HOUR] = "hour",       [QK_DAY] = "day",
    [QK_MONTH] = "month",   [QK_FOREVER] = "forever",
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
