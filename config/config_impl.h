/* The loaded configuration, and the state of a parse in progress. */
#ifndef QK_CONFIG_IMPL_H
#define QK_CONFIG_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <quotakeeper/config.h>

#include "lines.h"
#include "problem.h"

/* A service's keys other than its periods, for duplicate detection and messages. */
typedef enum {
    QK__KEY_WARN,
    QK__KEY_CRITICAL,
    QK__KEY_RESERVE,
    QK__KEY_OUTAGE,
    QK__KEY_LEASE_MAX,
    QK__SERVICE_KEYS
} qk__service_key;

/* [quotakeeper]'s keys. */
typedef enum {
    QK__KEY_STATE,
    QK__KEY_STORE,
    QK__KEY_STORE_TIMEOUT,
    QK__SETTINGS_KEYS
} qk__settings_key;

typedef struct {
    char name[QK_NAME_MAX];
    unsigned line;                                /* of its [service NAME] header */
    unsigned window_line[QK_MAX_WINDOWS];         /* each window key's line, in file order */
    char window_key[QK_MAX_WINDOWS][QK_NAME_MAX]; /* each window key as written, for messages */
    char window_tz[QK_MAX_WINDOWS][QK_NAME_MAX];  /* each window's `tz ZONE`; "": none */
    unsigned key_line[QK__SERVICE_KEYS];          /* each other key's line; 0: not given */
    qk_service_def def; /* name and each tz are set once the array stops moving */
} qk__config_service;

struct qk_config {
    char *path;
    char *state; /* as qk_options.path: relative to the file's directory; NULL: none */
    char *store;
    int64_t store_timeout_ms;
    qk__config_service *services;
    size_t n_services, cap_services;
    qk_service_def *defs;
    qk_options options;
};

typedef enum { QK__SECTION_NONE, QK__SECTION_SETTINGS, QK__SECTION_SERVICE } qk__config_section;

typedef struct {
    qk_config *cfg;
    qk__config_lines lines;
    qk__config_problem problem;
    size_t headers_handled;       /* lines.headers when the handler last saw a key */
    unsigned handler_failed_line; /* the first line the handler refused; 0: none */
    qk__config_section section;
    unsigned settings_line;                        /* first [quotakeeper] header; 0: none yet */
    unsigned settings_key_line[QK__SETTINGS_KEYS]; /* 0: not given */
} qk__config_parse;

/* A key of the current [service NAME] section (the last of cfg->services). Returns 1, or 0
 * with the problem recorded. */
int qk__config_service_key(qk__config_parse *p, const char *key, const char *value, unsigned line);
/* The checks between a service's keys, once its section has ended. */
int qk__config_service_done(qk__config_parse *p);

/* A key of [quotakeeper]. */
int qk__config_settings_key(qk__config_parse *p, const char *key, const char *value, unsigned line);

#endif
