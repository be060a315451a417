/* Times and names as qkctl prints them: UTC in ISO 8601, durations for people, period names
 * as the config file spells them. */
#ifndef QKCTL_TIMEFMT_H
#define QKCTL_TIMEFMT_H

#include <stdint.h>

#include <quotakeeper.h>

/* "2024-05-01T12:34:00Z" (seconds precision); "never" for QK_NEVER. buf: 32 bytes. */
const char *qkctl_iso8601(int64_t ms, char *buf);

/* How long from now until then, for a person: "37s", "4m 07s", "5h 12m", "3d 04h"; "now"
 * when already past; "never" for QK_NEVER. Rounded up to the second, so a window that resets in
 * 200 ms says 1s rather than now. buf: 32 bytes. */
const char *qkctl_duration(int64_t now_ms, int64_t then_ms, char *buf);

/* "minute", "hour", "day", "month", "forever"; "unknown" otherwise. */
const char *qkctl_period_name(qk_period p);

#endif
