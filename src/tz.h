/* Time zones read from the system's tz database (issue 22): local midnights of an IANA zone.
 *
 * The library reads TZif files (RFC 8536) itself instead of calling localtime_r: glibc's zone
 * is process-global state selected by TZ, which a library must neither read nor change, and a
 * boundary must be computable under a slot lock, where no I/O or allocation is allowed. So a
 * zone is compiled once, by qk__tz_load, into a qk__zone: fixed size (under 8 KiB),
 * pointer-free, fully initialised (every unused byte zero), immutable afterwards, so that it can
 * be copied into a state file shared by processes and read back there (qk__tz_check). The other
 * functions are pure: no locks, no allocation, no I/O, no global state.
 *
 * What is read. The file is <dir>/<name>, dir being $TZDIR when set (glibc's variable, read with
 * secure_getenv so that a set-id program ignores it as glibc does), else /usr/share/zoneinfo. A
 * name is one or more components of [A-Za-z0-9_+-.] joined by '/', none of them empty, "." or
 * "..", at most QK__TZ_NAME_MAX - 1 bytes: nothing outside the directory can be named. Files over
 * 1 MiB are refused before they are read. Only version 2 and later files are accepted (a v1-only
 * file has 32-bit times and no footer); their v1 block is skipped and the 64-bit block read. The
 * file is checked strictly, as RFC 8536 section 3 states it: magic, at least one local time
 * type, designation bytes, isstd/isut counts zero or the type count, every transition's type in
 * range, transitions strictly increasing, isdst 0 or 1, offsets within +-26 h (RFC 8536 allows
 * -25:59:59..+25:59:59), the footer "\nTZ\n" present and the file ending right after it. Any
 * failure, a truncation at any byte included, is QK_ECORRUPT. Files with leap-second records (the
 * "right/" zones) are refused with QK_EINVAL: their times count leap seconds, and quotas run on
 * POSIX time.
 *
 * What is kept. The transitions as (UTC second, offset after it), at most QK__TZ_TRANS_MAX: a
 * zone with more keeps the LATEST ones (boundaries are computed for now and the future, and the
 * oldest transitions are 19th-century local mean times), and the offset before the first kept
 * one becomes off0 (the offset the dropped transition before it set). With no clipping off0 is
 * local time type 0, as RFC 8536 says. The footer's POSIX TZ string is parsed into the standard
 * and daylight offsets and the start and end rules (Jn: day 1..365 never counting Feb 29; n: day
 * 0..365 counting it; Mm.w.d: day d (0 = Sunday) of week w (5 = last) of month m), each with a
 * time of day that may be negative or up to 167 h (RFC 8536 version 3). A daylight zone given no
 * rules gets glibc's default, M3.2.0,M11.1.0. Abbreviations must be POSIX's (three or more
 * letters, or <...>); they are checked, not kept.
 *
 * How an offset is found. Before the first transition: off0. From the last transition on (and
 * everywhere when there are no transitions) the footer rule applies when the footer has one, as
 * in glibc; with an empty footer the last transition's offset stays. In between, the offset the
 * latest transition at or before the instant set. This follows RFC 8536 where glibc 2.36 does
 * not: glibc ignores the footer of a file with no transitions and applies no footer rule before
 * 1970 (the tests compare with glibc only where it follows the RFC). Under a rule, daylight time
 * starts when the standard clock reads the start time and ends when the daylight clock reads the
 * end time, in every year; the rule's changes of a few years around the instant are sorted (an end
 * before a start at the same instant, so that a zone in daylight time all year stays there), which
 * handles the southern hemisphere (start month after end month) with no special case. */
#ifndef QK_TZ_H
#define QK_TZ_H

#include <stdint.h>

#define QK__TZ_NAME_MAX  64  /* with the NUL */
#define QK__TZ_TRANS_MAX 400 /* transitions kept; a Debian "fat" zone has about 240 at most */
#define QK__TZ_LAYOUT    1u  /* qk__zone.layout: bumped whenever the layout below changes */

/* One footer rule: when daylight time starts or ends in a year. */
typedef struct qk__tz_rule {
    int32_t kind;   /* QK__TZ_JULIAN (Jn), QK__TZ_DAY (n), QK__TZ_MONTH (Mm.w.d) */
    int32_t day;    /* Jn: 1..365; n: 0..365; Mm.w.d: d, 0..6 (0 = Sunday) */
    int32_t week;   /* Mm.w.d: 1..5 (5 = the last); else 0 */
    int32_t month;  /* Mm.w.d: 1..12; else 0 */
    int32_t time_s; /* local time of day of the change, -167 h..167 h */
} qk__tz_rule;

enum { QK__TZ_JULIAN = 1, QK__TZ_DAY = 2, QK__TZ_MONTH = 3 };

/* What the footer says: nothing (the last transition's offset stays), a fixed offset, or
 * daylight rules. */
enum { QK__TZ_FOOTER_NONE = 0, QK__TZ_FOOTER_FIXED = 1, QK__TZ_FOOTER_RULES = 2 };

typedef struct qk__zone {
    char name[QK__TZ_NAME_MAX];    /* NUL-terminated, zero-filled */
    uint32_t layout;               /* QK__TZ_LAYOUT */
    uint32_t n_trans;              /* transitions kept, 0..QK__TZ_TRANS_MAX */
    int32_t off0;                  /* offset (s east) before the first kept transition */
    int32_t footer;                /* QK__TZ_FOOTER_* */
    int32_t std_off;               /* footer: standard offset, s east */
    int32_t dst_off;               /* footer: daylight offset, s east (QK__TZ_FOOTER_RULES) */
    qk__tz_rule start, end;        /* footer: daylight starts, ends (QK__TZ_FOOTER_RULES) */
    uint64_t sum;                  /* FNV-1a 64 of every other byte: a flipped byte is refused */
    int64_t at[QK__TZ_TRANS_MAX];  /* UTC seconds, strictly increasing; unused entries zero */
    int32_t off[QK__TZ_TRANS_MAX]; /* offset (s east) from at[i] on; unused entries zero */
} qk__zone;

/* Reads zone `name` from the system database: the directory $TZDIR when set (glibc's own
 * variable), else /usr/share/zoneinfo. No static state; never reads or sets TZ.
 * QK_EINVAL: NULL out, NULL/empty/too long name, an absolute path, an empty, "." or ".."
 * component, a character outside [A-Za-z0-9_+-./], a name the database does not have (message:
 * the zone and the directory), a name that is not a regular file (a directory such as
 * "America"), or a zone with leap seconds. QK_EIO: the database directory is missing (message
 * says so, names it, and that the tzdata package provides it), or opening or reading fails
 * otherwise. QK_ENOMEM: no memory for the read buffer. QK_ECORRUPT: the file is not valid TZif
 * v2+ (a v1-only file is refused), is truncated or over 1 MiB; the message names the file. On
 * error *out is untouched. */
int qk__tz_load(qk__zone *out, const char *name);

/* 0 when z is a plausible compiled zone (NUL-terminated non-empty name zero-filled after it,
 * this layout, counts in range, transitions strictly increasing, unused entries zero, offsets
 * within +-26 h, rule fields in range, the checksum right); -1 otherwise. For a zone read back
 * from a state file. */
int qk__tz_check(const qk__zone *z);

/* The checksum qk__zone.sum must hold for z (every byte but sum itself). */
uint64_t qk__tz_sum(const qk__zone *z);

/* The zone's UTC offset, in seconds east, at instant utc_ms (any int64, no overflow). */
int32_t qk__tz_offset_s(const qk__zone *z, int64_t utc_ms);

/* The first UTC instant (ms) whose local wall-clock time (utc + offset) is at or after local_ms
 * (local time as ms since 1970-01-01T00:00 local). In a gap (clocks jump forward over local_ms)
 * that is the transition instant; in an overlap, the earlier instant. Non-decreasing in local_ms.
 * Saturates instead of overflowing near INT64_MIN/INT64_MAX. */
int64_t qk__tz_utc_of_local(const qk__zone *z, int64_t local_ms);

#endif
