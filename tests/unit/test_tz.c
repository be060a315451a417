/* The time zone reader (src/tz.c, issue 22): offsets cross-checked against glibc's own reader
 * in a forked child (the only place TZ is set), local midnights around DST changes, gaps and
 * overlaps, a slim zone and zones compiled here with zic (northern and southern rules, Jn and n
 * rule forms), the errors, every truncation and byte flip of a real file, and qk__tz_check. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qkt_criterion.h"
#include "tmpdir.h"
#include "utc.h"

#include "tz.h"

#define H (INT64_C(3600000))

static qk__zone load(const char *name)
{
    qk__zone z;
    memset(&z, 0, sizeof z);
    const int rc = qk__tz_load(&z, name);
    cr_assert_eq(rc, QK_OK, "load %s: %s", name, qk_errmsg());
    cr_assert_eq(qk__tz_check(&z), 0, "check %s", name);
    return z;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- glibc as the oracle, in a child ---- */

typedef struct {
    const char *tzdir; /* NULL: glibc's default */
    const char *tz;
    const int64_t *t;
    size_t n;
    int fd;
} oracle_job;

static int oracle_child(void *arg)
{
    const oracle_job *j = arg;
    if (j->tzdir != NULL)
        setenv("TZDIR", j->tzdir, 1);
    else
        unsetenv("TZDIR");
    setenv("TZ", j->tz, 1);
    tzset();
    for (size_t i = 0; i < j->n; i++) {
        const time_t tt = (time_t)j->t[i];
        struct tm tm;
        if (localtime_r(&tt, &tm) == NULL)
            return 2;
        const int32_t off = (int32_t)tm.tm_gmtoff;
        const char *p = (const char *)&off;
        size_t left = sizeof off;
        while (left > 0) {
            const ssize_t w = write(j->fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return 3;
            p += w;
            left -= (size_t)w;
        }
    }
    return QKT_CHILD_OK;
}

/* glibc's offsets (s east) at the instants t[0..n) (UTC seconds) for zone name. */
static void glibc_offsets(const char *tzdir, const char *name, const int64_t *t, size_t n,
                          int32_t *out)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    char tz[96];
    snprintf(tz, sizeof tz, ":%s", name);
    oracle_job j = {tzdir, tz, t, n, p[1]};
    const pid_t pid = qkt_fork_run(oracle_child, &j, 60);
    close(p[1]);
    char *dst = (char *)out;
    size_t left = n * sizeof *out;
    while (left > 0) {
        const ssize_t r = read(p[0], dst, left);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_gt(r, 0, "the glibc child stopped early (%zu bytes left)", left);
        dst += r;
        left -= (size_t)r;
    }
    close(p[0]);
    const int status = qkt_wait_child(pid);
    cr_assert_eq(status, QKT_CHILD_OK, "glibc child failed: status %d", status);
}

#define Y1900 INT64_C(-2208988800)
#define Y2100 INT64_C(4102444800)

/* The instants where qk__tz_offset_s changes from `from` to 2100, found by a 3-hourly scan and
 * bisection (so the footer rule's changes are found from the offsets alone). */
static size_t changes(const qk__zone *z, int64_t from, int64_t *out, size_t max)
{
    size_t n = 0;
    int32_t prev = qk__tz_offset_s(z, from * 1000);
    for (int64_t t = from + 10800; t < Y2100; t += 10800) {
        const int32_t o = qk__tz_offset_s(z, t * 1000);
        if (o == prev)
            continue;
        int64_t lo = t - 10800, hi = t; /* off(lo) == prev != off(hi) */
        while (hi - lo > 1) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (qk__tz_offset_s(z, mid * 1000) == prev)
                lo = mid;
            else
                hi = mid;
        }
        cr_assert_lt(n, max);
        out[n++] = hi;
        prev = o;
    }
    return n;
}

/* qk__tz_offset_s against glibc at 4,000 seeded random instants in from..2100 (UTC s; 1900 for
 * cross_check) and at every change -1, 0, +1 s; min_changes guards against a vacuous run. */
static void cross_check_from(const char *tzdir, const char *name, size_t min_changes, uint64_t seed,
                             int64_t from)
{
    const qk__zone z = load(name);
    /* Static, not malloc'd: the forked child would hold them (lost, to memcheck) at _exit. */
    enum { N_RANDOM = 4000, MAX_CHANGES = 1000 };
    static int64_t t[N_RANDOM + 3 * MAX_CHANGES], ch[MAX_CHANGES];
    static int32_t want[N_RANDOM + 3 * MAX_CHANGES];
    size_t n = 0;
    for (; n < N_RANDOM; n++)
        t[n] = from + (int64_t)(rng_next(&seed) % (uint64_t)(Y2100 - from));
    const size_t nch = changes(&z, from, ch, MAX_CHANGES);
    cr_assert_geq(nch, min_changes, "%s: %zu changes found, expected at least %zu", name, nch,
                  min_changes);
    for (size_t i = 0; i < nch; i++) {
        t[n++] = ch[i] - 1;
        t[n++] = ch[i];
        t[n++] = ch[i] + 1;
    }
    glibc_offsets(tzdir, name, t, n, want);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t got = qk__tz_offset_s(&z, t[i] * 1000);
        if (got != want[i] && bad++ < 5)
            cr_log_error("%s at %lld: offset %d, glibc %d", name, (long long)t[i], (int)got,
                         (int)want[i]);
    }
    cr_assert_eq(bad, 0, "%s: %zu of %zu instants differ from glibc", name, bad, n);
}

static void cross_check(const char *tzdir, const char *name, size_t min_changes, uint64_t seed)
{
    cross_check_from(tzdir, name, min_changes, seed, Y1900);
}

/* Changes between 1900 and 2100: a DST zone's since about 1970 number over 200. */
Test(tz, glibc_los_angeles)
{
    cross_check(NULL, "America/Los_Angeles", 200, 1);
}
Test(tz, glibc_london)
{
    cross_check(NULL, "Europe/London", 200, 2);
}
Test(tz, glibc_kolkata)
{
    cross_check(NULL, "Asia/Kolkata", 3, 3);
}
Test(tz, glibc_adelaide)
{
    cross_check(NULL, "Australia/Adelaide", 200, 4);
}
Test(tz, glibc_lord_howe)
{
    cross_check(NULL, "Australia/Lord_Howe", 200, 5);
}
Test(tz, glibc_chatham)
{
    cross_check(NULL, "Pacific/Chatham", 200, 6);
}
Test(tz, glibc_st_johns)
{
    cross_check(NULL, "America/St_Johns", 200, 7);
}
Test(tz, glibc_utc)
{
    cross_check(NULL, "UTC", 0, 8);
    cross_check(NULL, "Etc/UTC", 0, 9);
}
/* Version 3 footers: a negative rule time (M3.5.0/-1) and one over 24 h (M3.4.4/26). */
Test(tz, glibc_v3_footers)
{
    cross_check(NULL, "America/Nuuk", 150, 10);
    cross_check(NULL, "Asia/Jerusalem", 150, 11);
}
/* Midnight changes (Havana) and a zone whose DST ended (Sao Paulo). */
Test(tz, glibc_havana_sao_paulo)
{
    cross_check(NULL, "America/Havana", 150, 12);
    cross_check(NULL, "America/Sao_Paulo", 50, 13);
}

/* ---- local time to UTC ---- */

static int64_t local(int y, int m, int d, int h, int mi)
{
    return qkt_utc(y, m, d, h, mi, 0, 0);
}

Test(tz, los_angeles_2026_days_of_23_and_25_hours)
{
    const qk__zone z = load("America/Los_Angeles");
    const int64_t m7 = qk__tz_utc_of_local(&z, local(2026, 3, 7, 0, 0));
    const int64_t m8 = qk__tz_utc_of_local(&z, local(2026, 3, 8, 0, 0));
    const int64_t m9 = qk__tz_utc_of_local(&z, local(2026, 3, 9, 0, 0));
    cr_assert_eq(m8, qkt_utc(2026, 3, 8, 8, 0, 0, 0));
    cr_assert_eq(m9, qkt_utc(2026, 3, 9, 7, 0, 0, 0));
    cr_assert_eq(m8 - m7, 24 * H);
    cr_assert_eq(m9 - m8, 23 * H);
    const int64_t n1 = qk__tz_utc_of_local(&z, local(2026, 11, 1, 0, 0));
    const int64_t n2 = qk__tz_utc_of_local(&z, local(2026, 11, 2, 0, 0));
    cr_assert_eq(n1, qkt_utc(2026, 11, 1, 7, 0, 0, 0));
    cr_assert_eq(n2, qkt_utc(2026, 11, 2, 8, 0, 0, 0));
    cr_assert_eq(n2 - n1, 25 * H);
    /* 01:30 on Nov 1 happens twice: the earlier instant, in PDT. */
    cr_assert_eq(qk__tz_utc_of_local(&z, local(2026, 11, 1, 1, 30)),
                 qkt_utc(2026, 11, 1, 8, 30, 0, 0));
    /* 02:30 on Mar 8 does not exist: the transition instant, 10:00 UTC. */
    cr_assert_eq(qk__tz_utc_of_local(&z, local(2026, 3, 8, 2, 30)),
                 qkt_utc(2026, 3, 8, 10, 0, 0, 0));
}

Test(tz, london_2026_days_of_23_and_25_hours)
{
    const qk__zone z = load("Europe/London");
    const int64_t a = qk__tz_utc_of_local(&z, local(2026, 3, 29, 0, 0));
    const int64_t b = qk__tz_utc_of_local(&z, local(2026, 3, 30, 0, 0));
    cr_assert_eq(a, qkt_utc(2026, 3, 29, 0, 0, 0, 0));
    cr_assert_eq(b, qkt_utc(2026, 3, 29, 23, 0, 0, 0));
    cr_assert_eq(b - a, 23 * H);
    const int64_t c = qk__tz_utc_of_local(&z, local(2026, 10, 25, 0, 0));
    const int64_t d = qk__tz_utc_of_local(&z, local(2026, 10, 26, 0, 0));
    cr_assert_eq(c, qkt_utc(2026, 10, 24, 23, 0, 0, 0));
    cr_assert_eq(d, qkt_utc(2026, 10, 26, 0, 0, 0, 0));
    cr_assert_eq(d - c, 25 * H);
}

/* Local midnights that do not exist: the clocks jump from 00:00 to 01:00. */
Test(tz, missing_midnight_is_the_transition_instant)
{
    const qk__zone sp = load("America/Sao_Paulo");
    const int64_t t = qk__tz_utc_of_local(&sp, local(2018, 11, 4, 0, 0));
    cr_assert_eq(t, qkt_utc(2018, 11, 4, 3, 0, 0, 0));
    cr_assert_eq(qk__tz_offset_s(&sp, t - 1), -3 * 3600);
    cr_assert_eq(qk__tz_offset_s(&sp, t), -2 * 3600);
    const qk__zone hav = load("America/Havana");
    const int64_t h = qk__tz_utc_of_local(&hav, local(2026, 3, 8, 0, 0));
    cr_assert_eq(h, qkt_utc(2026, 3, 8, 5, 0, 0, 0));
    cr_assert_eq(qk__tz_offset_s(&hav, h - 1), -5 * 3600);
    cr_assert_eq(qk__tz_offset_s(&hav, h), -4 * 3600);
    /* Havana's 00:30 on 2026-11-01 happens twice (01:00 CDT goes back to 00:00 CST). */
    cr_assert_eq(qk__tz_utc_of_local(&hav, local(2026, 11, 1, 0, 30)),
                 qkt_utc(2026, 11, 1, 4, 30, 0, 0));
}

/* The definition, exactly: u = f(L) is the least u with u + off(u) >= L (checked as: u
 * qualifies, u - 1 ms does not), and f is non-decreasing. In 128-bit arithmetic. */
static void assert_first_at_or_after(const qk__zone *z, int64_t L, int64_t u)
{
    if (u != INT64_MAX)
        cr_assert_geq((__int128)u + (__int128)qk__tz_offset_s(z, u) * 1000, (__int128)L,
                      "%s: f(%lld) = %lld is before L", z->name, (long long)L, (long long)u);
    if (u != INT64_MIN)
        cr_assert_lt((__int128)(u - 1) + (__int128)qk__tz_offset_s(z, u - 1) * 1000, (__int128)L,
                     "%s: f(%lld) = %lld is not the first", z->name, (long long)L, (long long)u);
}

static void sweep(const char *name)
{
    const qk__zone z = load(name);
    int64_t prev = INT64_MIN;
    /* Every 13 minutes 2018..2027, and each change's local times -1, 0, +1 ms. */
    for (int64_t L = local(2018, 1, 1, 0, 0); L < local(2027, 1, 1, 0, 0); L += 13 * 60000) {
        const int64_t u = qk__tz_utc_of_local(&z, L);
        assert_first_at_or_after(&z, L, u);
        cr_assert_geq(u, prev, "%s: not monotonic at %lld", name, (long long)L);
        prev = u;
    }
    for (uint32_t i = 0; i < z.n_trans; i++) {
        const int64_t T = z.at[i] * 1000;
        if (T < local(2018, 1, 1, 0, 0) || T > local(2027, 1, 1, 0, 0))
            continue;
        const int32_t o[2] = {qk__tz_offset_s(&z, T - 1), qk__tz_offset_s(&z, T)};
        for (int k = 0; k < 2; k++) {
            int64_t p = INT64_MIN;
            for (int64_t d = -1; d <= 1; d++) {
                const int64_t L = T + o[k] * INT64_C(1000) + d;
                const int64_t u = qk__tz_utc_of_local(&z, L);
                assert_first_at_or_after(&z, L, u);
                cr_assert_geq(u, p);
                p = u;
            }
        }
    }
    /* Seeded random local times over the whole int64 range, sorted by construction. */
    uint64_t seed = 42;
    prev = INT64_MIN;
    int64_t L = INT64_MIN;
    for (int i = 0; i < 20000; i++) {
        const int64_t u = qk__tz_utc_of_local(&z, L);
        assert_first_at_or_after(&z, L, u);
        cr_assert_geq(u, prev, "%s: not monotonic at %lld", name, (long long)L);
        prev = u;
        const uint64_t step = rng_next(&seed) >> (rng_next(&seed) % 64);
        if ((uint64_t)INT64_MAX - (uint64_t)(L - INT64_MIN) < step)
            break;
        L = (int64_t)((uint64_t)L + step);
    }
}

Test(tz, utc_of_local_is_the_first_instant_and_monotonic)
{
    sweep("America/Los_Angeles");
    sweep("Europe/London");
    sweep("Australia/Lord_Howe");
    sweep("Pacific/Chatham");
    sweep("America/Havana");
    sweep("America/Sao_Paulo");
    sweep("Asia/Kolkata");
    sweep("UTC");
}

Test(tz, extremes_saturate)
{
    const qk__zone la = load("America/Los_Angeles");
    const qk__zone ko = load("Asia/Kolkata");
    /* West of UTC, INT64_MAX local has no UTC instant: saturated. East, it has one. */
    cr_assert_eq(qk__tz_utc_of_local(&la, INT64_MAX), INT64_MAX);
    cr_assert_eq(qk__tz_utc_of_local(&ko, INT64_MAX), INT64_MAX - INT64_C(19800000));
    cr_assert_eq(qk__tz_utc_of_local(&ko, INT64_MIN), INT64_MIN);
    /* Before the first transition: local mean time, -7:52:58 in Los Angeles. */
    cr_assert_eq(qk__tz_offset_s(&la, INT64_MIN), -28378);
    cr_assert_eq(qk__tz_utc_of_local(&la, INT64_MIN), INT64_MIN + INT64_C(28378000));
    const int32_t far = qk__tz_offset_s(&la, INT64_MAX);
    cr_assert(far == -8 * 3600 || far == -7 * 3600, "offset at INT64_MAX: %d", (int)far);
    cr_assert_eq(qk__tz_offset_s(&ko, INT64_MAX), 19800);
}

/* ---- zones compiled here with zic ---- */

static const char zic_source[] = "# Rule NAME FROM TO - IN ON AT SAVE LETTER\n"
                                 "Rule Nor 2000 max - Mar lastSun 2:00 1:00 S\n"
                                 "Rule Nor 2000 max - Oct lastSun 3:00 0 -\n"
                                 "Rule Sou 2000 max - Oct Sun>=1 2:00 1:00 -\n"
                                 "Rule Sou 2000 max - Apr Sun>=1 3:00 0 -\n"
                                 "Rule Fix 2000 max - Jan 5 2:00 1:00 -\n"
                                 "Rule Fix 2000 max - Mar 20 2:00 0 -\n"
                                 "Zone Test/North 1:00 Nor XE%sT\n"
                                 "Zone Test/South 10:00 Sou +10/+11\n"
                                 "Zone Test/Fixed -3:00 Fix -03/-02\n";

/* Compiles zic_source into a new directory dir with zic -b slim. */
static void compile_zones(char *dir)
{
    qkt_tmpdir_make(dir, "qk-tz");
    char src[PATH_MAX];
    qkt_path(src, dir, "zones.src");
    FILE *f = fopen(src, "w");
    cr_assert(f != NULL);
    cr_assert_eq(fputs(zic_source, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "zic -b slim -d '%s' '%s'", dir, src);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

/* The weekday of day number d (0 = Sunday). */
static int weekday(int64_t d)
{
    return (int)(((d % 7) + 7 + 4) % 7);
}

static int64_t last_sunday(int y, int m)
{
    int64_t d = qkt_days(y, m, qkt_month_days(y, m));
    while (weekday(d) != 0)
        d--;
    return d;
}

static int64_t first_sunday(int y, int m)
{
    int64_t d = qkt_days(y, m, 1);
    while (weekday(d) != 0)
        d++;
    return d;
}

static void assert_change(const qk__zone *z, int64_t at_s, int32_t before, int32_t after)
{
    cr_assert_eq(qk__tz_offset_s(z, at_s * 1000 - 1), before, "%s before %lld", z->name,
                 (long long)at_s);
    cr_assert_eq(qk__tz_offset_s(z, at_s * 1000), after, "%s at %lld", z->name, (long long)at_s);
}

Test(tz, slim_zone_follows_its_footer)
{
    char dir[PATH_MAX];
    compile_zones(dir);
    cr_assert_eq(setenv("TZDIR", dir, 1), 0);
    const qk__zone n = load("Test/North");
    const qk__zone s = load("Test/South");
    const qk__zone f = load("Test/Fixed");
    cr_assert_leq(n.n_trans, 4, "not slim: %u transitions", n.n_trans);
    cr_assert_eq(n.footer, QK__TZ_FOOTER_RULES);
    const int64_t last = n.n_trans ? n.at[n.n_trans - 1] : INT64_MIN;
    /* North: DST from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00
     * UTC, every year, far past the file's last transition. */
    const int years[] = {2040, 2100, 2200, 2400, 3000, 9999};
    for (size_t i = 0; i < sizeof years / sizeof years[0]; i++) {
        const int y = years[i];
        const int64_t on = last_sunday(y, 3) * 86400 + 3600;
        const int64_t off = last_sunday(y, 10) * 86400 + 3600;
        cr_assert_gt(on, last);
        assert_change(&n, on, 3600, 7200);
        assert_change(&n, off, 7200, 3600);
        /* South: DST from the first Sunday of October 02:00 (+10) to the first Sunday of April
         * 03:00 (+11): both 16:00 UTC the day before. */
        assert_change(&s, first_sunday(y, 10) * 86400 - 8 * 3600, 36000, 39600);
        assert_change(&s, first_sunday(y, 4) * 86400 - 8 * 3600, 39600, 36000);
        cr_assert_eq(qk__tz_offset_s(&s, qkt_utc(y, 1, 15, 0, 0, 0, 0)), 39600);
        cr_assert_eq(qk__tz_offset_s(&s, qkt_utc(y, 7, 15, 0, 0, 0, 0)), 36000);
        /* Fixed: Jan 5 02:00 (-3) = 05:00 UTC to Mar 20 02:00 (-2) = 04:00 UTC. */
        assert_change(&f, qkt_days(y, 1, 5) * 86400 + 5 * 3600, -3 * 3600, -2 * 3600);
        assert_change(&f, qkt_days(y, 3, 20) * 86400 + 4 * 3600, -2 * 3600, -3 * 3600);
    }
    /* Test/Fixed's footer uses the n (Jan) and Jn (Mar) forms. */
    cr_assert_eq(f.start.kind, QK__TZ_DAY, "start kind %d", f.start.kind);
    cr_assert_eq(f.end.kind, QK__TZ_JULIAN, "end kind %d", f.end.kind);
    cr_assert_eq(s.start.month, 10);
    cr_assert_eq(s.end.month, 4);
    cross_check(dir, "Test/North", 150, 21);
    cross_check(dir, "Test/South", 150, 22);
    cross_check(dir, "Test/Fixed", 150, 23);
    unsetenv("TZDIR");
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* A fat zone with more transitions than QK__TZ_TRANS_MAX (DST every year since 1800) keeps the
 * latest ones, and the offset before the first kept one is the one the dropped transition set. */
Test(tz, long_zone_keeps_its_latest_transitions)
{
    char dir[PATH_MAX], src[PATH_MAX], cmd[3 * PATH_MAX];
    qkt_tmpdir_make(dir, "qk-tz");
    qkt_path(src, dir, "many.src");
    FILE *f = fopen(src, "w");
    cr_assert(f != NULL);
    cr_assert(fputs("Rule Old 1800 max - Mar lastSun 2:00 1:00 S\n"
                    "Rule Old 1800 max - Oct lastSun 3:00 0 -\n"
                    "Zone Test/Many 1:00 Old XE%sT\n",
                    f) >= 0);
    cr_assert_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "zic -b fat -d '%s' '%s'", dir, src);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
    cr_assert_eq(setenv("TZDIR", dir, 1), 0);
    const qk__zone z = load("Test/Many");
    cr_assert_eq(z.n_trans, QK__TZ_TRANS_MAX);
    /* The file's last transition, 2037-10-25 01:00 UTC, is kept. */
    cr_assert_eq(z.at[QK__TZ_TRANS_MAX - 1] * 1000, qkt_utc(2037, 10, 25, 1, 0, 0, 0));
    /* The first kept one starts or ends DST; before it, the other offset. */
    const int32_t first = qk__tz_offset_s(&z, z.at[0] * 1000);
    cr_assert(first == 3600 || first == 7200);
    cr_assert_eq(qk__tz_offset_s(&z, z.at[0] * 1000 - 1), first == 3600 ? 7200 : 3600);
    cross_check(dir, "Test/Many", 300, 31);
    unsetenv("TZDIR");
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* Writes dir/name as a TZif v3 file whose 64-bit data has one transition, in 1800, to its one
 * type (offset off), and footer tz: glibc ignores the footer of a file with no transitions
 * (RFC 8536 applies it then), so the transition makes glibc a fair oracle after 1800. */
static void write_footer_zone(const char *dir, const char *name, int32_t off, const char *tz)
{
    unsigned char b[256];
    size_t n = 0;
    const uint32_t u = (uint32_t)off;
    const unsigned char type[6] = {u >> 24, (u >> 16) & 0xff, (u >> 8) & 0xff, u & 0xff, 0, 0};
    for (int block = 0; block < 2; block++) {
        memset(b + n, 0, 44);
        memcpy(b + n, "TZif3", 5);
        b[n + 35] = (unsigned char)block; /* timecnt: none in the 32-bit block */
        b[n + 39] = 1;                    /* typecnt */
        b[n + 43] = 4;                    /* charcnt */
        n += 44;
        if (block == 1) {
            const uint64_t t1800 = (uint64_t)INT64_C(-5364662400);
            for (int i = 0; i < 8; i++)
                b[n + i] = (unsigned char)(t1800 >> (56 - 8 * i));
            b[n + 8] = 0; /* its type */
            n += 9;
        }
        memcpy(b + n, type, 6);
        memcpy(b + n + 6, "ZZZ", 4);
        n += 10;
    }
    const int k = snprintf((char *)b + n, sizeof b - n, "\n%s\n", tz);
    cr_assert(k > 0 && (size_t)k < sizeof b - n);
    char path[PATH_MAX];
    FILE *f = fopen(qkt_path(path, dir, name), "wb");
    cr_assert(f != NULL);
    cr_assert_eq(fwrite(b, 1, n + (size_t)k, f), n + (size_t)k);
    cr_assert_eq(fclose(f), 0);
}

/* Footers no Debian zone has: daylight time all year (an end and the next start at the same
 * instant), and against glibc reading the same files, rule times of -167 h and 167 h, the n and Jn
 * forms on Feb 29 and after; a daylight zone with no rules (glibc's default) directly. */
Test(tz, unusual_footers_against_glibc)
{
    char dir[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-tz");
    write_footer_zone(dir, "AllYear", -4 * 3600, "EST5EDT,0/0,J365/25");
    write_footer_zone(dir, "Week", 3 * 3600, "<+03>-3<+04>,M3.5.0/-167,M10.1.0/167");
    write_footer_zone(dir, "Leap", -3600, "<-01>1<+00>,59/12,J200/12");
    write_footer_zone(dir, "NoRules", -5 * 3600, "EST5EDT");
    cr_assert_eq(setenv("TZDIR", dir, 1), 0);
    /* RFC 8536 section 3.3.1's own example of daylight time all year, checked directly, not
     * against glibc: glibc 2.36 applies no footer rule before 1970 and, after, reads only the
     * UTC year's changes, so it says -05 in the hours after 00:00 UTC on each Jan 1. */
    const qk__zone all = load("AllYear");
    for (int y = 1850; y <= 2400; y++) {
        const int64_t at[] = {qkt_utc(y, 1, 1, 4, 59, 59, 999), qkt_utc(y, 1, 1, 5, 0, 0, 0),
                              qkt_utc(y, 7, 1, 12, 0, 0, 0), qkt_utc(y, 12, 31, 23, 59, 59, 999)};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
            cr_assert_eq(qk__tz_offset_s(&all, at[i]), -4 * 3600, "AllYear in %d (%zu)", y, i);
    }
    /* From 1970: glibc 2.36 applies no footer rule before 1970. */
    cross_check_from(dir, "Week", 200, 42, 0);
    cross_check_from(dir, "Leap", 250, 43, 0);
    /* No rules: the US ones, checked directly (glibc 2.36 reads past the end of such a footer,
     * memcheck shows, so it is no oracle for it). */
    const qk__zone nr = load("NoRules");
    cr_assert_eq(nr.footer, QK__TZ_FOOTER_RULES);
    for (int y = 1980; y <= 2400; y += 7) {
        assert_change(&nr, (first_sunday(y, 3) + 7) * 86400 + 7 * 3600, -5 * 3600, -4 * 3600);
        assert_change(&nr, first_sunday(y, 11) * 86400 + 6 * 3600, -4 * 3600, -5 * 3600);
    }
    unsetenv("TZDIR");
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* ---- errors ---- */

static void assert_fails(const char *name, int code, const char *needle1, const char *needle2)
{
    qk__zone z, before;
    memset(&z, 0xa5, sizeof z);
    before = z;
    const int rc = qk__tz_load(&z, name);
    cr_assert_eq(rc, code, "load %s: %d (%s), expected %d", name ? name : "(null)", rc, qk_errmsg(),
                 code);
    cr_assert_eq(memcmp(&z, &before, sizeof z), 0, "%s: *out changed on error", name);
    if (needle1 != NULL)
        cr_assert(strstr(qk_errmsg(), needle1) != NULL, "message \"%s\" lacks \"%s\"", qk_errmsg(),
                  needle1);
    if (needle2 != NULL)
        cr_assert(strstr(qk_errmsg(), needle2) != NULL, "message \"%s\" lacks \"%s\"", qk_errmsg(),
                  needle2);
}

Test(tz, bad_names_and_directories)
{
    unsetenv("TZDIR");
    assert_fails("Nowhere/City", QK_EINVAL, "Nowhere/City", "/usr/share/zoneinfo");
    assert_fails("../etc/passwd", QK_EINVAL, "\"..\"", NULL);
    assert_fails("America/../../etc/passwd", QK_EINVAL, "\"..\"", NULL);
    assert_fails("./UTC", QK_EINVAL, "\".\"", NULL);
    assert_fails("/etc/localtime", QK_EINVAL, "absolute", NULL);
    assert_fails("", QK_EINVAL, "empty", NULL);
    assert_fails(NULL, QK_EINVAL, "NULL", NULL);
    assert_fails("America//Los_Angeles", QK_EINVAL, "empty component", NULL);
    assert_fails("America/Los_Angeles/", QK_EINVAL, "empty component", NULL);
    assert_fails("America/Los Angeles", QK_EINVAL, "character", NULL);
    assert_fails("UTC\n", QK_EINVAL, "character", NULL);
    assert_fails("America", QK_EINVAL, "not a regular file", NULL);
    char longname[80];
    memset(longname, 'A', 64);
    longname[64] = '\0';
    assert_fails(longname, QK_EINVAL, "too long", NULL);
    longname[63] = '\0'; /* 63 bytes: a valid name the database does not have */
    assert_fails(longname, QK_EINVAL, "unknown time zone", NULL);
    cr_assert_eq(qk__tz_load(NULL, "UTC"), QK_EINVAL);

    cr_assert_eq(setenv("TZDIR", "/nonexistent/qk-tz-dir", 1), 0);
    assert_fails("America/Los_Angeles", QK_EIO, "/nonexistent/qk-tz-dir", "tzdata");
    unsetenv("TZDIR");
}

static void write_file(const char *path, const void *data, size_t len)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    cr_assert_eq(close(fd), 0);
}

static unsigned char *read_real(const char *name, size_t *len)
{
    static unsigned char buf[65536];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    const ssize_t r = read(fd, buf, sizeof buf);
    close(fd);
    cr_assert(r > 0 && (size_t)r < sizeof buf);
    *len = (size_t)r;
    return buf;
}

Test(tz, garbage_truncations_and_flips)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-tz");
    qkt_path(path, dir, "Bad");
    cr_assert_eq(setenv("TZDIR", dir, 1), 0);

    const char garbage[] = "this is not a time zone file, not even close to one, no";
    write_file(path, garbage, sizeof garbage);
    assert_fails("Bad", QK_ECORRUPT, path, NULL);

    size_t len;
    unsigned char *real = read_real("America/Los_Angeles", &len);
    write_file(path, real, len);
    const qk__zone whole = load("Bad"); /* the control: the whole file loads */
    cr_assert_gt(whole.n_trans, 100);
    for (size_t n = 0; n < len; n++) {
        write_file(path, real, n);
        assert_fails("Bad", QK_ECORRUPT, path, NULL);
    }
    /* Stray bytes after the footer. */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, real, len);
    longer[len] = 'x';
    write_file(path, longer, len + 1);
    assert_fails("Bad", QK_ECORRUPT, "stray", NULL);
    free(longer);
    /* A v1-only file. */
    real[4] = '\0';
    write_file(path, real, len);
    assert_fails("Bad", QK_ECORRUPT, "version 1", NULL);
    real[4] = '2';
    /* Every byte flipped: loads (then passes the check) or is refused as corrupt, never more. */
    size_t refused = 0;
    for (size_t i = 0; i < len; i++) {
        real[i] ^= 0xff;
        write_file(path, real, len);
        qk__zone z, before;
        memset(&z, 0x5a, sizeof z);
        before = z;
        const int rc = qk__tz_load(&z, "Bad");
        if (rc == QK_OK) {
            cr_assert_eq(qk__tz_check(&z), 0, "flip at %zu loads but fails the check", i);
        } else {
            cr_assert_eq(rc, QK_ECORRUPT, "flip at %zu: %d (%s)", i, rc, qk_errmsg());
            cr_assert_eq(memcmp(&z, &before, sizeof z), 0);
            refused++;
        }
        real[i] ^= 0xff;
    }
    cr_assert_gt(refused, len / 4, "only %zu of %zu flips refused", refused, len);
    unsetenv("TZDIR");
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* ---- qk__tz_check ---- */

Test(tz, check_refuses_damaged_zones)
{
    const qk__zone good = load("Europe/London");
    qk__zone z = good;
    /* Any single byte changed: refused (FNV-1a differs for any one-byte change). */
    for (size_t i = 0; i < sizeof z; i++) {
        ((unsigned char *)&z)[i] ^= 0x01;
        cr_assert_eq(qk__tz_check(&z), -1, "byte %zu flipped is accepted", i);
        ((unsigned char *)&z)[i] ^= 0x01;
    }
    cr_assert_eq(qk__tz_check(&z), 0);
    /* Structurally bad zones with the checksum made to match: still refused. */
    z.n_trans += 1; /* one byte of the count: the entry after the last is zero */
    z.sum = qk__tz_sum(&z);
    cr_assert_eq(qk__tz_check(&z), -1, "a count one too high");
    z = good;
    z.n_trans = QK__TZ_TRANS_MAX + 1;
    z.sum = qk__tz_sum(&z);
    cr_assert_eq(qk__tz_check(&z), -1, "a count over the maximum");
    z = good;
    const int64_t t = z.at[10];
    z.at[10] = z.at[11];
    z.at[11] = t;
    z.sum = qk__tz_sum(&z);
    cr_assert_eq(qk__tz_check(&z), -1, "unsorted transitions");
    z = good;
    memset(z.name, 'A', sizeof z.name);
    z.sum = qk__tz_sum(&z);
    cr_assert_eq(qk__tz_check(&z), -1, "an unterminated name");
    z = good;
    z.off[3] = 27 * 3600;
    z.sum = qk__tz_sum(&z);
    cr_assert_eq(qk__tz_check(&z), -1, "an offset over 26 h");
    z = good;
    z.start.month = 13;
    z.sum = qk__tz_sum(&z);
    cr_assert_eq(qk__tz_check(&z), -1, "month 13");
    cr_assert_eq(qk__tz_check(NULL), -1);
}

Test(tz, zone_is_fixed_size_and_zero_filled)
{
    cr_assert_leq(sizeof(qk__zone), 8192);
    const qk__zone z = load("UTC");
    cr_assert_str_eq(z.name, "UTC");
    cr_assert_eq(z.footer, QK__TZ_FOOTER_FIXED);
    cr_assert_eq(z.std_off, 0);
    const unsigned char *p = (const unsigned char *)z.name;
    for (size_t i = 4; i < sizeof z.name; i++)
        cr_assert_eq(p[i], 0);
}
