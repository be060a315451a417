/* The values a key may take: counts, percentages, period and outage-policy names. Each parser
 * returns NULL on success, or why the value is wrong (a static string for a message). */
#ifndef QK_CONFIG_VALUES_H
#define QK_CONFIG_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include <quotakeeper.h>

/* A whole number written in decimal digits only: no sign, no space, no suffix. */
const char *qk__config_count(const char *value, uint64_t *out);

/* The key naming a window's period ("minute" ... "forever"); 0 when key names none. */
int qk__config_period(const char *key, qk_period *out);
const char *qk__config_period_name(qk_period period);

/* A window key (docs/config.md, "Windows"): `[rolling] [every] [N] UNIT`, UNIT one of second,
 * minute, hour, day, week, month (plural allowed after N) or forever. Returns 1 and sets *out's
 * period, every and flags; 0 when key is no window key at all (an unknown key); -1 when it is
 * one but wrong, with why (why_len bytes) saying how. */
int qk__config_window_key(const char *key, qk_window_def *out, char *why, size_t why_len);

/* A window value: `LIMIT [@ OFFSET] [tz ZONE]`, for the window whose period and every *w
 * already holds. Sets w->limit and w->offset_ms, and copies ZONE into tz (tz_len bytes; "" for
 * none). Returns NULL, or why the value is wrong (in why, why_len bytes). */
const char *qk__config_window_value(const char *value, qk_window_def *w, char *tz, size_t tz_len,
                                    char *why, size_t why_len);

/* "safe", "closed" or "open". */
const char *qk__config_outage(const char *value, qk_outage *out);

#endif
