/* Windows in a time zone (issue 22, docs/windows.md "Time zones"): day, week and month windows
 * whose boundaries are local midnights, across DST changes in America/Los_Angeles and
 * Europe/London, in zones of a 30-minute offset (Asia/Kolkata, Australia/Adelaide), and where
 * clocks jump over midnight (America/Havana). Black-box with an injected clock; the expected
 * instants are written out from the zones' published rules, in UTC. The system tz database is
 * read (tests/run.sh installs tzdata). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "qkt_criterion.h"
#include "tmpdir.h"
#include "utc.h"

#define H INT64_C(3600000)

static qk_service_def zoned(qk_period p, const char *tz)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "z";
    d.windows[0] = (qk_window_def){p, 1000, .tz = tz};
    return d;
}

/* At `at`, the window is [start, end): its last millisecond keeps the count, its end starts the
 * next window at 0. */
static void expect_bounds(qk_period p, const char *tz, int64_t at, int64_t start, int64_t end)
{
    qkt_clock clk;
    qkt_clock_set(&clk, at);
    const qk_service_def d = zoned(p, tz);
    qk_tracker *t = new_tracker(&d, 1, 0, &clk, NULL);
    qk_usage u;
    cr_assert_eq(qk_record(t, 0, 3, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].window_start_ms, start, "%s: start %lld, expected %lld", tz,
                 (long long)u.windows[0].window_start_ms, (long long)start);
    cr_assert_eq(u.windows[0].reset_at_ms, end, "%s: end %lld, expected %lld", tz,
                 (long long)u.windows[0].reset_at_ms, (long long)end);
    qkt_clock_set(&clk, end - 1);
    cr_assert_eq(peek(t, 0).windows[0].used, 3, "%s: the window's last ms keeps its count", tz);
    qkt_clock_set(&clk, end);
    u = peek(t, 0);
    cr_assert_eq(u.windows[0].used, 0, "%s: the next window starts at 0", tz);
    cr_assert_eq(u.windows[0].window_start_ms, end);
    qk_window_def w;
    cr_assert_eq(qk_window_get(t, 0, 0, &w), QK_OK, "%s", qk_errmsg());
    cr_assert_str_eq(w.tz, tz);
    cr_assert(w.period == p && w.every == 1 && w.offset_ms == 0 && w.flags == 0);
    qk_tracker_free(t);
}

Test(zoned, los_angeles_day_of_23_hours_in_march_and_25_in_november)
{
    /* PST (-8) to PDT (-7) on Sunday 2026-03-08 at 02:00 local, back on 2026-11-01. */
    expect_bounds(QK_DAY, "America/Los_Angeles", qkt_utc(2026, 3, 8, 12, 0, 0, 0),
                  qkt_utc(2026, 3, 8, 8, 0, 0, 0), qkt_utc(2026, 3, 9, 7, 0, 0, 0));
    expect_bounds(QK_DAY, "America/Los_Angeles", qkt_utc(2026, 11, 1, 12, 0, 0, 0),
                  qkt_utc(2026, 11, 1, 7, 0, 0, 0), qkt_utc(2026, 11, 2, 8, 0, 0, 0));
    /* An ordinary summer day: 07:00Z to 07:00Z. */
    expect_bounds(QK_DAY, "America/Los_Angeles", qkt_utc(2026, 7, 4, 6, 59, 59, 999),
                  qkt_utc(2026, 7, 3, 7, 0, 0, 0), qkt_utc(2026, 7, 4, 7, 0, 0, 0));
}

Test(zoned, london_day_of_23_hours_in_march_and_25_in_october)
{
    /* GMT to BST on 2026-03-29 at 01:00Z, back on 2026-10-25 at 01:00Z. */
    expect_bounds(QK_DAY, "Europe/London", qkt_utc(2026, 3, 29, 12, 0, 0, 0),
                  qkt_utc(2026, 3, 29, 0, 0, 0, 0), qkt_utc(2026, 3, 29, 23, 0, 0, 0));
    expect_bounds(QK_DAY, "Europe/London", qkt_utc(2026, 10, 25, 12, 0, 0, 0),
                  qkt_utc(2026, 10, 24, 23, 0, 0, 0), qkt_utc(2026, 10, 26, 0, 0, 0, 0));
}

Test(zoned, thirty_minute_offsets)
{
    /* India: +05:30 all year. */
    expect_bounds(QK_DAY, "Asia/Kolkata", qkt_utc(2026, 1, 9, 12, 0, 0, 0),
                  qkt_utc(2026, 1, 8, 18, 30, 0, 0), qkt_utc(2026, 1, 9, 18, 30, 0, 0));
    /* Adelaide: +10:30 in January (daylight time), +09:30 in July. */
    expect_bounds(QK_DAY, "Australia/Adelaide", qkt_utc(2026, 1, 9, 12, 0, 0, 0),
                  qkt_utc(2026, 1, 9, 13, 30, 0, 0) - 24 * H, qkt_utc(2026, 1, 9, 13, 30, 0, 0));
    expect_bounds(QK_DAY, "Australia/Adelaide", qkt_utc(2026, 7, 9, 12, 0, 0, 0),
                  qkt_utc(2026, 7, 8, 14, 30, 0, 0), qkt_utc(2026, 7, 9, 14, 30, 0, 0));
}

Test(zoned, a_midnight_the_clocks_skip_starts_the_day_at_the_jump)
{
    /* Havana springs forward at 00:00 local on 2026-03-08 (to 01:00): the day begins then,
     * 05:00Z, and lasts 23 hours. */
    expect_bounds(QK_DAY, "America/Havana", qkt_utc(2026, 3, 8, 12, 0, 0, 0),
                  qkt_utc(2026, 3, 8, 5, 0, 0, 0), qkt_utc(2026, 3, 9, 4, 0, 0, 0));
}

Test(zoned, weeks_and_months_in_los_angeles)
{
    /* The ISO week from Monday 2026-03-09 00:00 PDT; the week before it lasted 167 hours. */
    expect_bounds(QK_WEEK, "America/Los_Angeles", qkt_utc(2026, 3, 10, 12, 0, 0, 0),
                  qkt_utc(2026, 3, 9, 7, 0, 0, 0), qkt_utc(2026, 3, 16, 7, 0, 0, 0));
    expect_bounds(QK_WEEK, "America/Los_Angeles", qkt_utc(2026, 3, 8, 12, 0, 0, 0),
                  qkt_utc(2026, 3, 2, 8, 0, 0, 0), qkt_utc(2026, 3, 9, 7, 0, 0, 0));
    /* March 2026: from the 1st at 00:00 PST to April 1st at 00:00 PDT. */
    expect_bounds(QK_MONTH, "America/Los_Angeles", qkt_utc(2026, 3, 15, 0, 0, 0, 0),
                  qkt_utc(2026, 3, 1, 8, 0, 0, 0), qkt_utc(2026, 4, 1, 7, 0, 0, 0));
}

/* A zone this build cannot use is an error at open, never UTC: a name the database lacks, a
 * missing database, an offset with a zone, a zone with a store. */
static int open_rc(const qk_service_def *d, const char *path, const char *store)
{
    qk_options o = QK_OPTIONS_INIT;
    o.services = d;
    o.n_services = 1;
    o.path = path;
    o.store = store;
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    qk_tracker_free(t);
    return rc;
}

Test(zoned, refusals_say_why_and_create_nothing)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-zoned");
    qkt_path(path, dir, "state.qk");
    qk_service_def d = zoned(QK_DAY, "Mars/Olympus_Mons");
    cr_assert_eq(open_rc(&d, path, NULL), QK_EINVAL);
    cr_assert_not_null(strstr(qk_errmsg(), "Mars/Olympus_Mons"), "%s", qk_errmsg());
    cr_assert_eq(access(path, F_OK), -1, "no state file was created");

    d = zoned(QK_DAY, "America/Los_Angeles");
    d.windows[0].offset_ms = 7 * H;
    cr_assert_eq(open_rc(&d, NULL, NULL), QK_EINVAL);
    cr_assert_not_null(strstr(qk_errmsg(), "offset_ms with tz"), "%s", qk_errmsg());

    /* A store takes zoned windows (the fleet's tests: store_shapes), with a state file too: a
     * new file is made at layout 3, its store area after the zone table. The store is only
     * reached at the first sync, so an address nobody serves does not stop the open. */
    d = zoned(QK_DAY, "America/Los_Angeles");
    cr_assert_eq(open_rc(&d, NULL, "redis://127.0.0.1:1"), QK_OK, "%s", qk_errmsg());
    char stored[PATH_MAX];
    qkt_path(stored, dir, "stored.qk");
    cr_assert_eq(open_rc(&d, stored, "redis://127.0.0.1:1"), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(open_rc(&d, stored, "redis://127.0.0.1:1"), QK_OK, "reopened: %s", qk_errmsg());
    cr_assert_eq(unlink(stored), 0);

    setenv("TZDIR", "/nonexistent-tz-database", 1);
    cr_assert_eq(open_rc(&d, path, NULL), QK_EIO);
    cr_assert_not_null(strstr(qk_errmsg(), "/nonexistent-tz-database"), "%s", qk_errmsg());
    cr_assert_eq(access(path, F_OK), -1, "no state file was created");
    unsetenv("TZDIR");
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* In a state file the zone is in the file's zone table: a reopen keeps the count and the local
 * day, and two zones of one period count apart. */
Test(zoned, in_a_state_file)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-zoned");
    qkt_path(path, dir, "state.qk");
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2026, 3, 8, 12, 0, 0, 0));
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "google";
    d.windows[0] = (qk_window_def){QK_DAY, 100, .tz = "America/Los_Angeles"};
    d.windows[1] = (qk_window_def){QK_DAY, 100, .tz = "Europe/London"};
    d.windows[2] = (qk_window_def){QK_DAY, 100};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &d;
    o.n_services = 1;
    o.path = path;
    o.clock = qkt_clock_read;
    o.clock_ctx = &clk;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_record(t, 0, 5, NULL), QK_OK);
    qk_tracker_free(t);
    /* 2026-03-09 01:00Z: London's and UTC's day turned, Los Angeles' (until 07:00Z) did not. */
    qkt_clock_set(&clk, qkt_utc(2026, 3, 9, 1, 0, 0, 0));
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    qk_usage u = peek(t, 0);
    cr_assert_eq(u.windows[0].used, 5);
    cr_assert_eq(u.windows[0].window_start_ms, qkt_utc(2026, 3, 8, 8, 0, 0, 0));
    cr_assert_eq(u.windows[1].used, 0);
    cr_assert_eq(u.windows[1].window_start_ms, qkt_utc(2026, 3, 9, 0, 0, 0, 0));
    cr_assert_eq(u.windows[2].used, 0);
    qk_window_def w;
    cr_assert_eq(qk_window_get(t, 0, 1, &w), QK_OK);
    cr_assert_str_eq(w.tz, "Europe/London");
    qk_tracker_free(t);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}
