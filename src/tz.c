/* Time zones from the system's tz database: TZif (RFC 8536) parsing into a fixed-size,
 * pointer-free qk__zone, and the pure offset and local-time functions over it. The format, the
 * checks and the choices are described at the top of tz.h. */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX    (1024 * 1024) /* bytes; the largest Debian zone is under 4 KiB */
#define TZ_OFF_MAX     (26 * 3600)   /* |offset| in seconds */
#define TZ_RULE_T_MAX  (167 * 3600)  /* |time of day| of a rule (RFC 8536 version 3) */
#define TZ_HDR_LEN     44

_Static_assert(sizeof(qk__zone) <= 8192, "a compiled zone fits 8 KiB");
_Static_assert(offsetof(qk__zone, sum) % 8 == 0 && offsetof(qk__zone, at) % 8 == 0,
               "no padding before the 64-bit fields");
_Static_assert(offsetof(qk__zone, off) + sizeof(int32_t) * QK__TZ_TRANS_MAX == sizeof(qk__zone),
               "no tail padding");
_Static_assert(offsetof(qk__zone, at) == offsetof(qk__zone, sum) + 8, "no padding after sum");

/* ---- calendar arithmetic on int64 days (proleptic Gregorian) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int month_len(int64_t y, int m)
{
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1] + (m == 2 && is_leap(y));
}

/* Days from 1970-01-01 to y-m-d. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = floor_div(y, 400);
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The year of day number z (days from 1970-01-01). */
static int64_t year_of_days(int64_t z)
{
    z += 719468;
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

/* The day (days from 1970-01-01) a rule names in year y. */
static int64_t rule_day(const qk__tz_rule *r, int64_t y)
{
    const int64_t jan1 = days_from_civil(y, 1, 1);
    switch (r->kind) {
    case QK__TZ_JULIAN:
        return jan1 + r->day - 1 + (is_leap(y) && r->day >= 60);
    case QK__TZ_DAY:
        return jan1 + r->day;
    default: {
        const int64_t first = days_from_civil(y, r->month, 1);
        const int wd = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        int64_t d = first + (r->day - wd + 7) % 7 + 7 * (int64_t)(r->week - 1);
        if (d >= first + month_len(y, r->month))
            d -= 7; /* week 5: the last one */
        return d;
    }
    }
}

/* ---- the offset at an instant ---- */

/* Under the footer rules: the offset at t (UTC s) and the first change strictly after t. The
 * changes of years Y-2..Y+2 (Y: t's year in standard time) are sorted; a rule's day lies in its
 * year and its time within 167 h, so some change of those years lies at or before t and some
 * after it. At equal instants an end sorts before a start. */
static int32_t rule_at(const qk__zone *z, int64_t t, int64_t *next)
{
    struct tz_event {
        int64_t at;
        int dst;
    } ev[10];
    const int64_t y0 = year_of_days(floor_div(t + z->std_off, 86400));
    unsigned n = 0;
    for (int64_t y = y0 - 2; y <= y0 + 2; y++) {
        ev[n].at = rule_day(&z->start, y) * 86400 + z->start.time_s - z->std_off;
        ev[n++].dst = 1;
        ev[n].at = rule_day(&z->end, y) * 86400 + z->end.time_s - z->dst_off;
        ev[n++].dst = 0;
    }
    for (unsigned i = 1; i < n; i++) { /* insertion sort by (at, dst) */
        for (unsigned j = i; j > 0; j--) {
            if (ev[j - 1].at < ev[j].at || (ev[j - 1].at == ev[j].at && ev[j - 1].dst <= ev[j].dst))
                break;
            const struct tz_event tmp = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = tmp;
        }
    }
    int dst = 0;
    *next = ev[n - 1].at;
    for (unsigned i = 0; i < n; i++) {
        if (ev[i].at <= t) {
            dst = ev[i].dst;
        } else {
            *next = ev[i].at;
            break;
        }
    }
    return dst ? z->dst_off : z->std_off;
}

/* The offset at t (UTC seconds); *has_next says whether the offset may change after t, at
 * *next (seconds, > t). */
static int32_t zone_at(const qk__zone *z, int64_t t, int64_t *next, int *has_next)
{
    const uint32_t n = z->n_trans <= QK__TZ_TRANS_MAX ? z->n_trans : QK__TZ_TRANS_MAX;
    *has_next = 1;
    if (n > 0 && t < z->at[0]) {
        *next = z->at[0];
        return z->off0;
    }
    if (n == 0 || t >= z->at[n - 1]) {
        if (z->footer == QK__TZ_FOOTER_RULES)
            return rule_at(z, t, next);
        *has_next = 0;
        if (z->footer == QK__TZ_FOOTER_FIXED)
            return z->std_off;
        return n > 0 ? z->off[n - 1] : z->off0;
    }
    uint32_t lo = 0, hi = n - 1; /* at[lo] <= t < at[hi] */
    while (hi - lo > 1) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    *next = z->at[hi];
    return z->off[lo];
}

int32_t qk__tz_offset_s(const qk__zone *z, int64_t utc_ms)
{
    int64_t next;
    int has_next;
    return zone_at(z, floor_div(utc_ms, 1000), &next, &has_next);
}

/* min{u : u + off(u) >= local_ms}. No u below local_ms - 26 h qualifies (|off| <= 26 h), so the
 * offset's segments are walked from there: in a segment [u, next) of offset o the first
 * qualifying instant is max(u, local_ms - o) when that lies before next. The walk is bounded by
 * the segments a 52-hour span can hold. */
int64_t qk__tz_utc_of_local(const qk__zone *z, int64_t local_ms)
{
    const int64_t span = (int64_t)TZ_OFF_MAX * 1000;
    int64_t u = local_ms < INT64_MIN + span ? INT64_MIN : local_ms - span;
    int64_t next;
    int has_next;
    int32_t o = zone_at(z, floor_div(u, 1000), &next, &has_next);
    const uint32_t bound = (z->n_trans <= QK__TZ_TRANS_MAX ? z->n_trans : QK__TZ_TRANS_MAX) + 16;
    for (uint32_t i = 0; i < bound; i++) {
        int64_t cand;
        if (__builtin_sub_overflow(local_ms, (int64_t)o * 1000, &cand))
            cand = o > 0 ? INT64_MIN : INT64_MAX;
        if (cand < u)
            cand = u;
        if (!has_next || next > INT64_MAX / 1000 || cand < next * 1000)
            return cand;
        u = next * 1000;
        o = zone_at(z, next, &next, &has_next);
    }
    return u;
}

/* ---- checks ---- */

static int off_ok(int64_t o)
{
    return o >= -TZ_OFF_MAX && o <= TZ_OFF_MAX;
}

static int rule_ok(const qk__tz_rule *r)
{
    if (r->time_s < -TZ_RULE_T_MAX || r->time_s > TZ_RULE_T_MAX)
        return 0;
    switch (r->kind) {
    case QK__TZ_JULIAN:
        return r->day >= 1 && r->day <= 365 && r->week == 0 && r->month == 0;
    case QK__TZ_DAY:
        return r->day >= 0 && r->day <= 365 && r->week == 0 && r->month == 0;
    case QK__TZ_MONTH:
        return r->day >= 0 && r->day <= 6 && r->week >= 1 && r->week <= 5 && r->month >= 1 &&
               r->month <= 12;
    }
    return 0;
}

static int rule_zero(const qk__tz_rule *r)
{
    return r->kind == 0 && r->day == 0 && r->week == 0 && r->month == 0 && r->time_s == 0;
}

/* NULL when name is acceptable, else why not. */
static const char *name_problem(const char *name, size_t len)
{
    if (len == 0)
        return "it is empty";
    if (len >= QK__TZ_NAME_MAX)
        return "it is too long (at most 63 bytes)";
    if (name[0] == '/')
        return "it is an absolute path";
    size_t comp = 0; /* start of the current component */
    for (size_t i = 0; i <= len; i++) {
        const char c = i < len ? name[i] : '/';
        if (c == '/') {
            const size_t clen = i - comp;
            if (clen == 0)
                return "it has an empty component";
            if ((clen == 1 && name[comp] == '.') ||
                (clen == 2 && name[comp] == '.' && name[comp + 1] == '.'))
                return "it has a \".\" or \"..\" component";
            comp = i + 1;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.'))
            return "it has a character outside [A-Za-z0-9_+-./]";
    }
    return NULL;
}

uint64_t qk__tz_sum(const qk__zone *z)
{
    const unsigned char *p = (const unsigned char *)z;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < sizeof *z; i++) {
        if (i >= offsetof(qk__zone, sum) && i < offsetof(qk__zone, sum) + sizeof z->sum)
            continue;
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    }
    return h;
}

int qk__tz_check(const qk__zone *z)
{
    if (z == NULL)
        return -1;
    const char *nul = memchr(z->name, '\0', sizeof z->name);
    if (nul == NULL || name_problem(z->name, (size_t)(nul - z->name)) != NULL)
        return -1;
    for (const char *p = nul; p < z->name + sizeof z->name; p++)
        if (*p != '\0')
            return -1;
    if (z->layout != QK__TZ_LAYOUT || z->n_trans > QK__TZ_TRANS_MAX || !off_ok(z->off0))
        return -1;
    for (uint32_t i = 0; i < QK__TZ_TRANS_MAX; i++) {
        if (i < z->n_trans) {
            if (!off_ok(z->off[i]) || (i > 0 && z->at[i] <= z->at[i - 1]))
                return -1;
        } else if (z->at[i] != 0 || z->off[i] != 0) {
            return -1;
        }
    }
    switch (z->footer) {
    case QK__TZ_FOOTER_NONE:
        if (z->std_off != 0 || z->dst_off != 0 || !rule_zero(&z->start) || !rule_zero(&z->end))
            return -1;
        break;
    case QK__TZ_FOOTER_FIXED:
        if (!off_ok(z->std_off) || z->dst_off != 0 || !rule_zero(&z->start) || !rule_zero(&z->end))
            return -1;
        break;
    case QK__TZ_FOOTER_RULES:
        if (!off_ok(z->std_off) || !off_ok(z->dst_off) || !rule_ok(&z->start) || !rule_ok(&z->end))
            return -1;
        break;
    default:
        return -1;
    }
    return z->sum == qk__tz_sum(z) ? 0 : -1;
}

/* ---- the footer's POSIX TZ string ---- */

/* Up to max_digits decimal digits into *v; 0 when there are none. */
static int tz_num(const char **s, int max_digits, int32_t *v)
{
    int32_t n = 0;
    int k = 0;
    while (k < max_digits && **s >= '0' && **s <= '9') {
        n = n * 10 + (**s - '0');
        (*s)++;
        k++;
    }
    *v = n;
    return k > 0;
}

/* An abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static int tz_abbr(const char **s)
{
    const char *p = *s;
    size_t k = 0;
    if (*p == '<') {
        p++;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               *p == '+' || *p == '-') {
            p++;
            k++;
        }
        if (*p != '>')
            return 0;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            p++;
            k++;
        }
    }
    *s = p;
    return k >= 3;
}

/* [+-]h[h[h]][:mm[:ss]] with hours up to max_h, into seconds. */
static int tz_hms(const char **s, int32_t max_h, int32_t *out)
{
    int sign = 1;
    if (**s == '+' || **s == '-') {
        sign = **s == '-' ? -1 : 1;
        (*s)++;
    }
    int32_t h, m = 0, sec = 0;
    if (!tz_num(s, 3, &h) || h > max_h)
        return 0;
    if (**s == ':') {
        (*s)++;
        if (!tz_num(s, 2, &m) || m > 59)
            return 0;
        if (**s == ':') {
            (*s)++;
            if (!tz_num(s, 2, &sec) || sec > 59)
                return 0;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return 1;
}

/* Jn, n or Mm.w.d, then an optional /time (default 02:00). */
static int tz_rule(const char **s, qk__tz_rule *r)
{
    int32_t v;
    memset(r, 0, sizeof *r);
    if (**s == 'J') {
        (*s)++;
        if (!tz_num(s, 3, &v) || v < 1 || v > 365)
            return 0;
        r->kind = QK__TZ_JULIAN;
        r->day = v;
    } else if (**s == 'M') {
        int32_t m, w, d;
        (*s)++;
        if (!tz_num(s, 2, &m) || m < 1 || m > 12 || *(*s)++ != '.')
            return 0;
        if (!tz_num(s, 1, &w) || w < 1 || w > 5 || *(*s)++ != '.')
            return 0;
        if (!tz_num(s, 1, &d) || d > 6)
            return 0;
        r->kind = QK__TZ_MONTH;
        r->month = m;
        r->week = w;
        r->day = d;
    } else {
        if (!tz_num(s, 3, &v) || v > 365)
            return 0;
        r->kind = QK__TZ_DAY;
        r->day = v;
    }
    r->time_s = 7200;
    if (**s == '/') {
        (*s)++;
        if (!tz_hms(s, 167, &r->time_s))
            return 0;
    }
    return 1;
}

/* Parses the footer string s (NUL-terminated) into z; 0 on success. An empty string leaves
 * QK__TZ_FOOTER_NONE. */
static int tz_footer(const char *s, qk__zone *z)
{
    int32_t west;
    if (*s == '\0')
        return 0;
    if (!tz_abbr(&s) || !tz_hms(&s, 24, &west) || !off_ok(-(int64_t)west))
        return -1;
    z->std_off = -west;
    if (*s == '\0') {
        z->footer = QK__TZ_FOOTER_FIXED;
        return 0;
    }
    if (!tz_abbr(&s))
        return -1;
    z->dst_off = z->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!tz_hms(&s, 24, &west) || !off_ok(-(int64_t)west))
            return -1;
        z->dst_off = -west;
    }
    if (!off_ok(z->dst_off))
        return -1;
    z->footer = QK__TZ_FOOTER_RULES;
    if (*s == '\0') { /* no rules: glibc's default, the US rules since 2007 */
        const char *def = "M3.2.0,M11.1.0";
        return tz_rule(&def, &z->start) && *def++ == ',' && tz_rule(&def, &z->end) ? 0 : -1;
    }
    if (*s++ != ',' || !tz_rule(&s, &z->start) || *s++ != ',' || !tz_rule(&s, &z->end) ||
        *s != '\0')
        return -1;
    return 0;
}

/* ---- TZif ---- */

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The header at b (len bytes left): 0 with the version byte and counts, -1 when short or not
 * TZif. */
static int tzif_header(const unsigned char *b, size_t len, unsigned char *version, tzif_counts *c)
{
    if (len < TZ_HDR_LEN || memcmp(b, "TZif", 4) != 0)
        return -1;
    *version = b[4];
    c->isut = be32(b + 20);
    c->isstd = be32(b + 24);
    c->leap = be32(b + 28);
    c->time = be32(b + 32);
    c->type = be32(b + 36);
    c->chars = be32(b + 40);
    return 0;
}

static uint64_t tzif_block_len(const tzif_counts *c, unsigned time_size)
{
    return (uint64_t)c->time * (time_size + 1) + (uint64_t)c->type * 6 + c->chars +
           (uint64_t)c->leap * (time_size + 4) + c->isstd + c->isut;
}

#define CORRUPT(...) qk__fail(QK_ECORRUPT, __VA_ARGS__)

/* Parses the whole file b[0..len) into z (zeroed by the caller, name set). */
static int tzif_parse(const unsigned char *b, size_t len, const char *path, qk__zone *z)
{
    unsigned char version;
    tzif_counts c;
    if (tzif_header(b, len, &version, &c) != 0)
        return CORRUPT("time zone file %s is not TZif (bad magic or shorter than a header)", path);
    if (version == '\0')
        return CORRUPT("time zone file %s is TZif version 1, which has no 64-bit data; "
                       "version 2 or later is needed",
                       path);
    if (version < '2')
        return CORRUPT("time zone file %s has an unknown TZif version byte 0x%02x", path, version);
    size_t pos = TZ_HDR_LEN;
    const uint64_t v1 = tzif_block_len(&c, 4);
    if (v1 > len - pos)
        return CORRUPT("time zone file %s is truncated (in its version 1 data)", path);
    pos += (size_t)v1;
    unsigned char version2;
    if (tzif_header(b + pos, len - pos, &version2, &c) != 0)
        return CORRUPT("time zone file %s is truncated or damaged (no second TZif header)", path);
    pos += TZ_HDR_LEN;
    if (tzif_block_len(&c, 8) > len - pos)
        return CORRUPT("time zone file %s is truncated (in its 64-bit data)", path);
    if (c.type == 0 || c.chars == 0 || (c.isut != 0 && c.isut != c.type) ||
        (c.isstd != 0 && c.isstd != c.type))
        return CORRUPT("time zone file %s has inconsistent counts (types %u, designation bytes "
                       "%u, isstd %u, isut %u)",
                       path, c.type, c.chars, c.isstd, c.isut);
    const unsigned char *times = b + pos;
    const unsigned char *idx = times + (size_t)c.time * 8;
    const unsigned char *types = idx + c.time;
    const unsigned char *chars = types + (size_t)c.type * 6;
    const unsigned char *leaps = chars + c.chars;
    const unsigned char *isstd = leaps + (size_t)c.leap * 12;
    const unsigned char *isut = isstd + c.isstd;
    pos += (size_t)tzif_block_len(&c, 8);

    for (uint32_t i = 0; i < c.type; i++) {
        const int32_t off = (int32_t)be32(types + 6 * i);
        if (!off_ok(off) || types[6 * i + 4] > 1 || types[6 * i + 5] >= c.chars)
            return CORRUPT("time zone file %s has a bad local time type %u (offset %d s, isdst "
                           "%u, designation %u)",
                           path, i, (int)off, types[6 * i + 4], types[6 * i + 5]);
    }
    if (chars[c.chars - 1] != '\0')
        return CORRUPT("time zone file %s has an unterminated time zone designation", path);
    for (uint32_t i = 0; i < c.type; i++) {
        if ((c.isstd && isstd[i] > 1) || (c.isut && (isut[i] > 1 || (isut[i] && !isstd[i]))))
            return CORRUPT("time zone file %s has a bad standard/UT indicator for type %u", path,
                           i);
    }
    for (uint32_t i = 0; i < c.time; i++) {
        if (idx[i] >= c.type)
            return CORRUPT("time zone file %s: transition %u names type %u of %u", path, i, idx[i],
                           c.type);
        if (i > 0 && be64(times + 8 * i) <= be64(times + 8 * (i - 1)))
            return CORRUPT("time zone file %s: transition %u is not after the one before it", path,
                           i);
    }
    if (pos >= len || b[pos] != '\n')
        return CORRUPT("time zone file %s is truncated (no footer)", path);
    const unsigned char *foot = b + pos + 1;
    const unsigned char *end = memchr(foot, '\n', len - pos - 1);
    if (end == NULL)
        return CORRUPT("time zone file %s is truncated (unterminated footer)", path);
    if ((size_t)(end - b) + 1 != len)
        return CORRUPT("time zone file %s has %zu stray bytes after its footer", path,
                       len - (size_t)(end - b) - 1);
    char tz[128];
    const size_t flen = (size_t)(end - foot);
    if (flen >= sizeof tz || memchr(foot, '\0', flen) != NULL)
        return CORRUPT("time zone file %s has a footer TZ string that is too long or has a NUL",
                       path);
    memcpy(tz, foot, flen);
    tz[flen] = '\0';
    if (tz_footer(tz, z) != 0)
        return CORRUPT("time zone file %s has a footer TZ string \"%s\" that is not valid", path,
                       tz);
    if (c.leap != 0)
        return qk__fail(QK_EINVAL,
                        "time zone file %s has leap seconds (a \"right/\" zone), which are not "
                        "supported: quotas run on POSIX time",
                        path);

    /* Keep the latest QK__TZ_TRANS_MAX transitions. */
    const uint32_t first = c.time > QK__TZ_TRANS_MAX ? c.time - QK__TZ_TRANS_MAX : 0;
    z->off0 = (int32_t)be32(types + 6 * (first > 0 ? idx[first - 1] : 0));
    z->n_trans = c.time - first;
    for (uint32_t i = first; i < c.time; i++) {
        z->at[i - first] = be64(times + 8 * i);
        z->off[i - first] = (int32_t)be32(types + 6 * idx[i]);
    }
    return QK_OK;
}

int qk__tz_load(qk__zone *out, const char *name)
{
    if (out == NULL)
        return qk__fail(QK_EINVAL, "qk__tz_load: NULL out");
    if (name == NULL)
        return qk__fail(QK_EINVAL, "time zone name is NULL");
    const size_t nlen = strnlen(name, QK__TZ_NAME_MAX);
    const char *why = name_problem(name, nlen);
    if (why != NULL)
        return qk__fail(QK_EINVAL, "time zone name \"%.*s\" is not valid: %s", QK__TZ_NAME_MAX - 1,
                        name, why);
    /* secure_getenv: a set-id program ignores TZDIR, as glibc's own reader does. */
    const char *dir = secure_getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = TZ_DEFAULT_DIR;
    char path[4096];
    const size_t dlen = strlen(dir);
    if (dlen + 1 + nlen + 1 > sizeof path)
        return qk__fail(QK_EINVAL, "time zone directory %.64s... is too long", dir);
    memcpy(path, dir, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, name, nlen + 1);

    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        struct stat ds;
        if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode))
            return qk__fail(QK_EIO,
                            "the time zone database directory %s is missing (the tzdata package "
                            "provides it)",
                            dir);
        if (e == ENOENT || e == ENOTDIR)
            return qk__fail(QK_EINVAL, "unknown time zone \"%s\" (not in %s)", name, dir);
        return qk__fail(QK_EIO, "cannot open time zone file %s: %s", path, strerror(e));
    }
    int rc;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        rc = qk__fail(QK_EIO, "cannot stat time zone file %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = qk__fail(QK_EINVAL, "time zone \"%s\" is not a zone: %s is not a regular file", name,
                      path);
        goto done;
    }
    buf = malloc(TZ_FILE_MAX + 1);
    if (buf == NULL) {
        rc = qk__fail(QK_ENOMEM, "no memory to read time zone file %s", path);
        goto done;
    }
    size_t got = 0;
    while (got < TZ_FILE_MAX + 1) {
        const ssize_t r = read(fd, buf + got, TZ_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = qk__fail(QK_EIO, "cannot read time zone file %s: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > TZ_FILE_MAX) {
        rc = CORRUPT("time zone file %s is over 1 MiB, which no TZif file is", path);
        goto done;
    }
    qk__zone z;
    memset(&z, 0, sizeof z);
    memcpy(z.name, name, nlen);
    z.layout = QK__TZ_LAYOUT;
    rc = tzif_parse(buf, got, path, &z);
    if (rc == QK_OK) {
        z.sum = qk__tz_sum(&z);
        memcpy(out, &z, sizeof z);
    }
done:
    free(buf);
    close(fd);
    return rc;
}
