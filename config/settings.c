/* The keys of the [quotakeeper] section: where the counts live. The shared store's settings
 * go here as well, beside the state file's. */
#include <stdlib.h>
#include <string.h>

#include "config_impl.h"
#include "values.h"

static const char *const key_names[QK__SETTINGS_KEYS] = {
    [QK__KEY_STATE] = "state",
    [QK__KEY_STORE] = "store",
    [QK__KEY_STORE_TIMEOUT] = "store_timeout_ms",
};

static int copy_text(qk__config_parse *p, const char *key, const char *value, unsigned line,
                     char **out)
{
    if (value[0] == '\0')
        return qk__config_problem_set(&p->problem, QK_EINVAL, line, "%s = '': no value", key);
    *out = strdup(value);
    if (*out == NULL)
        return qk__config_problem_set(&p->problem, QK_ENOMEM, line, "out of memory");
    return 1;
}

int qk__config_settings_key(qk__config_parse *p, const char *key, const char *value, unsigned line)
{
    unsigned k = 0;
    while (k < QK__SETTINGS_KEYS && strcmp(key, key_names[k]) != 0)
        k++;
    if (k == QK__SETTINGS_KEYS)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "unknown key '%s' in [quotakeeper] (expected state, store "
                                      "or store_timeout_ms)",
                                      key);
    if (p->settings_key_line[k] != 0)
        return qk__config_problem_set(&p->problem, QK_EINVAL, line,
                                      "duplicate key '%s' in [quotakeeper] (first at line %u)", key,
                                      p->settings_key_line[k]);

    qk_config *cfg = p->cfg;
    switch ((qk__settings_key)k) {
    case QK__KEY_STATE:
        if (!copy_text(p, key, value, line, &cfg->state))
            return 0;
        break;
    case QK__KEY_STORE:
        if (!copy_text(p, key, value, line, &cfg->store))
            return 0;
        break;
    case QK__KEY_STORE_TIMEOUT: {
        uint64_t ms;
        const char *why = qk__config_count(value, &ms);
        if (why == NULL && ms > INT64_MAX)
            why = "too large: the most is 9223372036854775807";
        if (why != NULL)
            return qk__config_problem_set(&p->problem, QK_EINVAL, line, "%s = '%s': %s", key, value,
                                          why);
        cfg->store_timeout_ms = (int64_t)ms;
        break;
    }
    case QK__SETTINGS_KEYS:
        break;
    }
    p->settings_key_line[k] = line;
    return 1;
}
