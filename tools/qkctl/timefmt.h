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

/* "second", "minute", "hour", "day", "week", "month", "forever"; "unknown" otherwise. */
const char *qkctl_period_name(qk_period p);

/* A window's length in ms: every x the period's; 0 for months, forever and zoned windows, whose
 * length is not fixed. */
int64_t qkctl_window_length_ms(const qk_window_def *w);

/* What qkctl_shape_text and qkctl_shape_label need: the longest shape with a zone's name. */
#define QKCTL_SHAPE_MAX 128

/* A window's shape for a person, in the config file's words: "minute", "15 minutes",
 * "3 months", "day @07:00", "hour @:30", "week @wed 09:00", "month @5th", "rolling minute",
 * "day tz America/Los_Angeles". buf: QKCTL_SHAPE_MAX bytes. */
const char *qkctl_shape_text(const qk_window_def *w, char *buf);

/* The same, short, for a metrics label: "1m", "15m", "3mo", "1d@07:00", "1h@:30",
 * "1w@wed_09:00", "1mo@5th", "r1m" (rolling), "1d America/Los_Angeles" (a zone's name is
 * [A-Za-z0-9_+-./] only), "forever". buf: QKCTL_SHAPE_MAX bytes. */
const char *qkctl_shape_label(const qk_window_def *w, char *buf);

#endif
