/* The values a key may take: counts, percentages, period and outage-policy names. Each parser
 * returns NULL on success, or why the value is wrong (a static string for a message). */
#ifndef QK_CONFIG_VALUES_H
#define QK_CONFIG_VALUES_H

#include <stdint.h>

#include <quotakeeper.h>

/* A whole number written in decimal digits only: no sign, no space, no suffix. */
const char *qk__config_count(const char *value, uint64_t *out);

/* The key naming a window's period ("minute" ... "forever"); 0 when key names none. */
int qk__config_period(const char *key, qk_period *out);
const char *qk__config_period_name(qk_period period);

/* "safe", "closed" or "open". */
const char *qk__config_outage(const char *value, qk_outage *out);

#endif
