/* Service definitions: validation and defaults, shared by registration and by the state
 * file's checks. */
#ifndef QK_SERVICE_DEF_H
#define QK_SERVICE_DEF_H

#include <stddef.h>

#include "quotakeeper.h"

#define QK_DEFAULT_WARN_PCT     50
#define QK_DEFAULT_CRITICAL_PCT 80

/* Index of the first character outside [A-Za-z0-9_.-] among name's len characters, or len. */
size_t qk__name_bad_char(const char *name, size_t len);

/* Validates def; returns its number of windows (> 0) or a negative error with a message. */
int qk__service_def_check(const qk_service_def *def);

static inline unsigned qk__warn_pct(const qk_service_def *def)
{
    return def->warn_pct ? def->warn_pct : QK_DEFAULT_WARN_PCT;
}

static inline unsigned qk__critical_pct(const qk_service_def *def)
{
    return def->critical_pct ? def->critical_pct : QK_DEFAULT_CRITICAL_PCT;
}

#endif
