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

/* qk_window_def before options version 4: period and limit only. */
typedef struct {
    qk_period period;
    uint64_t limit;
} qk__window_def_v3;

/* qk_service_def as options versions 1 and 2 laid it out: the version 3 fields are missing, so
 * an array of them has a shorter stride. */
typedef struct {
    const char *name;
    qk__window_def_v3 windows[QK_MAX_WINDOWS];
    uint8_t warn_pct, critical_pct;
    uint64_t reserve;
} qk__service_def_v2;

/* ... and as version 3 laid it out: its windows without the version 4 fields. */
typedef struct {
    const char *name;
    qk__window_def_v3 windows[QK_MAX_WINDOWS];
    uint8_t warn_pct, critical_pct;
    uint64_t reserve;
    qk_outage outage;
    uint64_t lease_max;
} qk__service_def_v3;

/* A definition in the current layout, validated, with its window count from the validation. */
typedef struct {
    qk_service_def def;
    unsigned n_windows;
    /* Each window's zone in the region's zone table, 1 + its index (0: UTC), once registered
     * (tracker.c, qk__zones_register); def.windows[i].tz then points at the table's name. */
    uint8_t zone[QK_MAX_WINDOWS];
} qk__checked_def;

/* Reads element i of a caller's array of definitions laid out for options version
 * api_version into out (fields the version lacks take their defaults) and validates it.
 * QK_OK, or QK_EINVAL with a message. */
int qk__service_def_read(qk__checked_def *out, const void *defs, size_t i, unsigned api_version);

static inline unsigned qk__warn_pct(const qk_service_def *def)
{
    return def->warn_pct ? def->warn_pct : QK_DEFAULT_WARN_PCT;
}

static inline unsigned qk__critical_pct(const qk_service_def *def)
{
    return def->critical_pct ? def->critical_pct : QK_DEFAULT_CRITICAL_PCT;
}

#endif
