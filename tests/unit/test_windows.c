/* Window shapes of options version 4 (issue 22, docs/windows.md): QK_SECOND and QK_WEEK, windows
 * of `every` periods, boundaries moved by offset_ms, months of N aligned to 1970-01, and the
 * validation of each field. Black-box through the public API with an injected clock; the expected
 * instants come from tests/support/utc.h's independent day counting. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#include "clock.h"
#include "qkt_criterion.h"
#include "utc.h"

#include "service_def.h"

static qk_tracker *with_window(qkt_clock *clk, qk_window_def w)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "s";
    d.windows[0] = w;
    return new_tracker(&d, 1, 0, clk, NULL);
}

/* At `at`, the window's bounds are [start, end); the last millisecond before end keeps the count,
 * end itself starts the next window at 0. */
static void expect_bounds(qk_window_def w, int64_t at, int64_t start, int64_t end)
{
    qkt_clock clk;
    qkt_clock_set(&clk, at);
    qk_tracker *t = with_window(&clk, w);
    qk_usage u;
    cr_assert_eq(qk_record(t, 0, 3, &u), QK_OK);
    cr_assert_eq(u.windows[0].window_start_ms, start, "start %lld, expected %lld",
                 (long long)u.windows[0].window_start_ms, (long long)start);
    cr_assert_eq(u.windows[0].reset_at_ms, end, "end %lld, expected %lld",
                 (long long)u.windows[0].reset_at_ms, (long long)end);
    qkt_clock_set(&clk, end - 1);
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 3, "the window's last ms keeps its count");
    qkt_clock_set(&clk, end);
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 0, "the next window starts at 0");
    cr_assert_eq(u.windows[0].window_start_ms, end);
    qk_tracker_free(t);
}

Test(windows, second)
{
    const int64_t at = qkt_utc(2026, 1, 9, 12, 0, 7, 250);
    expect_bounds((qk_window_def){.period = QK_SECOND, .limit = 30}, at, at - 250, at + 750);
    /* Before the epoch too: floor, not truncation. */
    expect_bounds((qk_window_def){.period = QK_SECOND, .limit = 30}, -1, -1000, 0);
}

Test(windows, quarter_hours)
{
    /* Twitter/X style: 900 calls per 15 minutes, aligned to :00, :15, :30, :45. */
    const qk_window_def w = {QK_MINUTE, 900, .every = 15};
    expect_bounds(w, qkt_utc(2026, 1, 9, 12, 7, 0, 0), qkt_utc(2026, 1, 9, 12, 0, 0, 0),
                  qkt_utc(2026, 1, 9, 12, 15, 0, 0));
    expect_bounds(w, qkt_utc(2026, 1, 9, 12, 59, 59, 999), qkt_utc(2026, 1, 9, 12, 45, 0, 0),
                  qkt_utc(2026, 1, 9, 13, 0, 0, 0));
    /* every = 0 and every = 1 are the same one minute. */
    expect_bounds((qk_window_def){QK_MINUTE, 9, .every = 1}, qkt_utc(2026, 1, 9, 12, 7, 30, 0),
                  qkt_utc(2026, 1, 9, 12, 7, 0, 0), qkt_utc(2026, 1, 9, 12, 8, 0, 0));
    /* 5 hours: multiples of 5 h from the epoch (2026-01-09 12:00 is hour 20462 * 24 + 12 =
     * 491100 = 5 * 98220). */
    expect_bounds((qk_window_def){QK_HOUR, 9, .every = 5}, qkt_utc(2026, 1, 9, 16, 59, 0, 0),
                  qkt_utc(2026, 1, 9, 12, 0, 0, 0), qkt_utc(2026, 1, 9, 17, 0, 0, 0));
    expect_bounds((qk_window_def){QK_HOUR, 9, .every = 5}, qkt_utc(2026, 1, 9, 11, 0, 0, 0),
                  qkt_utc(2026, 1, 9, 7, 0, 0, 0), qkt_utc(2026, 1, 9, 12, 0, 0, 0));
}

Test(windows, iso_weeks)
{
    /* 2026-01-09 is a Friday; its ISO week began on Monday 2026-01-05. */
    expect_bounds((qk_window_def){QK_WEEK, 100}, qkt_utc(2026, 1, 9, 12, 0, 0, 0),
                  qkt_utc(2026, 1, 5, 0, 0, 0, 0), qkt_utc(2026, 1, 12, 0, 0, 0, 0));
    /* A Monday's first ms is its week's first; the Sunday before is the week before. */
    expect_bounds((qk_window_def){QK_WEEK, 100}, qkt_utc(2026, 1, 4, 23, 59, 59, 999),
                  qkt_utc(2025, 12, 29, 0, 0, 0, 0), qkt_utc(2026, 1, 5, 0, 0, 0, 0));
    /* The epoch, a Thursday, is in the week of Monday 1969-12-29. */
    expect_bounds((qk_window_def){QK_WEEK, 100}, 0, qkt_utc(1969, 12, 29, 0, 0, 0, 0),
                  qkt_utc(1970, 1, 5, 0, 0, 0, 0));
    /* Fortnights from 1969-12-29: 2025-12-29 is 20454 days (2922 weeks) later. */
    expect_bounds((qk_window_def){QK_WEEK, 100, .every = 2}, qkt_utc(2026, 1, 9, 12, 0, 0, 0),
                  qkt_utc(2025, 12, 29, 0, 0, 0, 0), qkt_utc(2026, 1, 12, 0, 0, 0, 0));
}

Test(windows, offsets)
{
    /* A daily quota that resets at 07:00 UTC. */
    const qk_window_def day7 = {QK_DAY, 1000, .offset_ms = 7 * QKT_HOUR};
    expect_bounds(day7, qkt_utc(2026, 1, 9, 12, 0, 0, 0), qkt_utc(2026, 1, 9, 7, 0, 0, 0),
                  qkt_utc(2026, 1, 10, 7, 0, 0, 0));
    expect_bounds(day7, qkt_utc(2026, 1, 9, 6, 59, 59, 999), qkt_utc(2026, 1, 8, 7, 0, 0, 0),
                  qkt_utc(2026, 1, 9, 7, 0, 0, 0));
    /* A week from Wednesday 09:00 (two days and nine hours after Monday). */
    const qk_window_def wed = {QK_WEEK, 1000, .offset_ms = 2 * QKT_DAY + 9 * QKT_HOUR};
    expect_bounds(wed, qkt_utc(2026, 1, 9, 12, 0, 0, 0), qkt_utc(2026, 1, 7, 9, 0, 0, 0),
                  qkt_utc(2026, 1, 14, 9, 0, 0, 0));
    /* An hour that turns at :30 (a zone of a half-hour offset, as UTC arithmetic). */
    expect_bounds((qk_window_def){QK_HOUR, 10, .offset_ms = 30 * QKT_MIN},
                  qkt_utc(2026, 1, 9, 12, 10, 0, 0), qkt_utc(2026, 1, 9, 11, 30, 0, 0),
                  qkt_utc(2026, 1, 9, 12, 30, 0, 0));
}

Test(windows, months)
{
    /* Quarters start in January, April, July and October. */
    const qk_window_def q = {QK_MONTH, 1000, .every = 3};
    expect_bounds(q, qkt_utc(2026, 1, 9, 12, 0, 0, 0), qkt_utc(2026, 1, 1, 0, 0, 0, 0),
                  qkt_utc(2026, 4, 1, 0, 0, 0, 0));
    expect_bounds(q, qkt_utc(2026, 5, 15, 0, 0, 0, 0), qkt_utc(2026, 4, 1, 0, 0, 0, 0),
                  qkt_utc(2026, 7, 1, 0, 0, 0, 0));
    expect_bounds(q, qkt_utc(1969, 12, 31, 0, 0, 0, 0), qkt_utc(1969, 10, 1, 0, 0, 0, 0),
                  qkt_utc(1970, 1, 1, 0, 0, 0, 0));
    /* A billing month from the 5th: offset 4 days. */
    const qk_window_def bill = {QK_MONTH, 1000, .offset_ms = 4 * QKT_DAY};
    expect_bounds(bill, qkt_utc(2026, 1, 3, 0, 0, 0, 0), qkt_utc(2025, 12, 5, 0, 0, 0, 0),
                  qkt_utc(2026, 1, 5, 0, 0, 0, 0));
    expect_bounds(bill, qkt_utc(2026, 3, 5, 0, 0, 0, 0), qkt_utc(2026, 3, 5, 0, 0, 0, 0),
                  qkt_utc(2026, 4, 5, 0, 0, 0, 0));
    /* A year: twelve months from January. */
    expect_bounds((qk_window_def){QK_MONTH, 1000, .every = 12}, qkt_utc(2026, 7, 9, 0, 0, 0, 0),
                  qkt_utc(2026, 1, 1, 0, 0, 0, 0), qkt_utc(2027, 1, 1, 0, 0, 0, 0));
}

/* Two windows of one period but other lengths count apart and roll apart. */
Test(windows, shapes_of_one_period)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2026, 1, 9, 12, 14, 30, 0));
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "finnhub";
    d.windows[0] = (qk_window_def){QK_MINUTE, 60};
    d.windows[1] = (qk_window_def){QK_MINUTE, 500, .every = 15};
    qk_tracker *t = new_tracker(&d, 1, 0, &clk, NULL);
    cr_assert_eq(qk_record(t, 0, 5, NULL), QK_OK);
    qkt_clock_advance(&clk, 40 * 1000); /* 12:15:10: both windows turned */
    qk_usage u;
    cr_assert_eq(qk_record(t, 0, 2, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 2);
    cr_assert_eq(u.windows[1].used, 2);
    qkt_clock_advance(&clk, 60 * 1000); /* 12:16:10: only the minute turned */
    cr_assert_eq(qk_record(t, 0, 1, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 1);
    cr_assert_eq(u.windows[1].used, 3);
    cr_assert_eq(u.windows[1].window_start_ms, qkt_utc(2026, 1, 9, 12, 15, 0, 0));
    qk_tracker_free(t);
}

/* Each bad field: QK_EINVAL, a message that names the window and the field, nothing registered. */
static void bad_window(qk_window_def w, const char *needle)
{
    qkt_clock clk;
    qkt_clock_set(&clk, QKT_T0_MS);
    qk_tracker *t = new_tracker(NULL, 0, 2, &clk, NULL);
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "bad";
    d.windows[0] = (qk_window_def){QK_MINUTE, 10};
    d.windows[1] = w;
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_EINVAL, "accepted (wanted '%s')", needle);
    cr_assert(strstr(qk_errmsg(), needle) != NULL, "message '%s' lacks '%s'", qk_errmsg(), needle);
    cr_assert(strstr(qk_errmsg(), "window 1") != NULL, "message '%s' names no window", qk_errmsg());
    cr_assert_eq(qk_service_count(t), 0);
    qk_tracker_free(t);
}

Test(windows, validation)
{
    bad_window((qk_window_def){QK_FOREVER, 10, .every = 2}, "every 2 on QK_FOREVER");
    bad_window((qk_window_def){QK_DAY, 10, .offset_ms = -1000}, "offset_ms -1000 is negative");
    bad_window((qk_window_def){QK_DAY, 10, .offset_ms = QKT_DAY}, "not below the window's length");
    bad_window((qk_window_def){QK_MINUTE, 10, .every = 15, .offset_ms = 15 * QKT_MIN},
               "offset_ms 900000");
    bad_window((qk_window_def){QK_MONTH, 10, .offset_ms = 28 * QKT_DAY}, "shortest length");
    bad_window((qk_window_def){QK_HOUR, 10, .offset_ms = 1500}, "not a whole number of seconds");
    bad_window((qk_window_def){QK_FOREVER, 10, .offset_ms = 1000}, "offset_ms on QK_FOREVER");
    bad_window((qk_window_def){QK_MINUTE, 10, .flags = 0x6}, "unknown flags bits 0x6");
    bad_window((qk_window_def){QK_MONTH, 10, .flags = QK_WINDOW_ROLLING}, "rolling window of "
                                                                          "QK_MONTH");
    bad_window((qk_window_def){QK_FOREVER, 10, .flags = QK_WINDOW_ROLLING}, "rolling window of "
                                                                            "QK_FOREVER");
    bad_window((qk_window_def){QK_MINUTE, 10, .flags = QK_WINDOW_ROLLING, .offset_ms = 1000},
               "offset_ms on a rolling window");
    bad_window((qk_window_def){QK_MINUTE, 10, .tz = "Europe/London"}, "tz on QK_MINUTE");
    bad_window((qk_window_def){(qk_period)7, 10}, "unknown period 7");
    /* The longest offsets that are allowed. */
    qkt_clock clk;
    qkt_clock_set(&clk, QKT_T0_MS);
    qk_tracker *t = new_tracker(NULL, 0, 2, &clk, NULL);
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "ok";
    d.windows[0] = (qk_window_def){QK_DAY, 10, .offset_ms = QKT_DAY - 1000};
    d.windows[1] = (qk_window_def){QK_MONTH, 10, .every = 2, .offset_ms = 56 * QKT_DAY - 1000};
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
}

/* A caller of options version 3 passes windows of {period, limit} only: its array is read at
 * that stride and every window is one fixed UTC period. */
Test(windows, options_version_3_layout)
{
    qk__service_def_v3 old[2];
    memset(old, 0, sizeof old);
    old[0].name = "a";
    old[0].windows[0].period = QK_MINUTE;
    old[0].windows[0].limit = 5;
    old[0].windows[1].period = QK_DAY;
    old[0].windows[1].limit = 50;
    old[1].name = "b";
    old[1].windows[0].period = QK_HOUR;
    old[1].windows[0].limit = 7;
    old[1].reserve = 2;
    qkt_clock clk;
    qkt_clock_set(&clk, QKT_T0_MS + 1234);
    qk_options o = QK_OPTIONS_INIT;
    o.version = 3;
    o.services = (const qk_service_def *)old;
    o.n_services = 2;
    o.clock = qkt_clock_read;
    o.clock_ctx = &clk;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    qk_usage u;
    cr_assert_eq(qk_peek(t, 1, &u), QK_OK);
    cr_assert_eq(u.n_windows, 1);
    cr_assert_eq(u.windows[0].period, QK_HOUR);
    cr_assert_eq(u.windows[0].limit, 7);
    cr_assert_eq(u.windows[0].window_start_ms, QKT_T0_MS);
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK);
    cr_assert_eq(u.n_windows, 2);
    cr_assert_eq(u.windows[1].reset_at_ms, QKT_T0_MS + 12 * QKT_HOUR);
    qk_tracker_free(t);
}

/* qk_window_get gives back the shape that was defined, for every kind of fixed window. */
Test(windows, window_get_round_trip)
{
    const qk_window_def shapes[] = {
        {QK_SECOND, 30},
        {QK_MINUTE, 900, .every = 15},
        {QK_HOUR, 10, .offset_ms = 30 * QKT_MIN},
        {QK_DAY, 1000, .offset_ms = 7 * QKT_HOUR},
        {QK_WEEK, 100, .every = 2, .offset_ms = 2 * QKT_DAY},
        {QK_MONTH, 1000, .every = 3, .offset_ms = 4 * QKT_DAY},
        {QK_MONTH, 1000},
        {QK_FOREVER, 5},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        qkt_clock clk;
        qkt_clock_set(&clk, qkt_utc(2026, 2, 20, 3, 4, 5, 0));
        qk_tracker *t = with_window(&clk, shapes[k]);
        qk_window_def got;
        cr_assert_eq(qk_window_get(t, 0, 0, &got), QK_OK, "%s", qk_errmsg());
        const unsigned every = shapes[k].every ? shapes[k].every : 1;
        cr_assert_eq(got.period, shapes[k].period, "shape %zu", k);
        cr_assert_eq(got.limit, shapes[k].limit, "shape %zu", k);
        cr_assert_eq(got.every, every, "shape %zu: every %u, wanted %u", k, got.every, every);
        cr_assert_eq(got.offset_ms, shapes[k].offset_ms, "shape %zu: offset %lld", k,
                     (long long)got.offset_ms);
        cr_assert_eq(got.flags, 0);
        cr_assert_null(got.tz);
        cr_assert_eq(qk_window_get(t, 0, 1, &got), QK_EINVAL);
        cr_assert(strstr(qk_errmsg(), "no window 1") != NULL, "%s", qk_errmsg());
        qk_tracker_free(t);
    }
}

/* qk_window_get reads everything it returns in one hold of the slot lock, from the window as
 * stored: its answer matches the definition and a peek's period and limit, for every kind of
 * window in one service, and still does after every window's period ended unrolled (a roll moves
 * bounds, never a shape). */
Test(windows, window_get_matches_the_definition_and_a_peek)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "s";
    d.windows[0] = (qk_window_def){QK_MINUTE, 900, .every = 15};
    d.windows[1] = (qk_window_def){QK_HOUR, 10, .offset_ms = 30 * QKT_MIN};
    d.windows[2] = (qk_window_def){QK_SECOND, 20, .every = 2, .flags = QK_WINDOW_ROLLING};
    d.windows[3] = (qk_window_def){QK_DAY, 100, .tz = "Europe/London"};
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2026, 2, 20, 3, 4, 5, 0));
    qk_tracker *t = new_tracker(&d, 1, 0, &clk, NULL);
    for (int later = 0; later <= 1; later++) {
        if (later)
            qkt_clock_advance(&clk, 40 * QKT_DAY); /* every window ended; none rolled yet */
        for (unsigned i = 0; i < 4; i++) {
            qk_window_def got;
            cr_assert_eq(qk_window_get(t, 0, i, &got), QK_OK, "%s", qk_errmsg());
            const qk_window_def *want = &d.windows[i];
            cr_assert_eq(got.period, want->period, "window %u", i);
            cr_assert_eq(got.limit, want->limit, "window %u", i);
            cr_assert_eq(got.every, want->every ? want->every : 1, "window %u", i);
            cr_assert_eq(got.offset_ms, want->offset_ms, "window %u", i);
            cr_assert_eq(got.flags, want->flags, "window %u", i);
            if (want->tz != NULL)
                cr_assert_str_eq(got.tz, want->tz);
            else
                cr_assert_null(got.tz, "window %u", i);
        }
        qk_usage u;
        cr_assert_eq(qk_peek(t, 0, &u), QK_OK, "%s", qk_errmsg());
        for (unsigned i = 0; i < u.n_windows; i++) {
            qk_window_def got;
            cr_assert_eq(qk_window_get(t, 0, i, &got), QK_OK);
            cr_assert_eq(got.period, u.windows[i].period, "window %u", i);
            cr_assert_eq(got.limit, u.windows[i].limit, "window %u", i);
        }
    }
    qk_window_def got;
    cr_assert_eq(qk_window_get(t, 0, 4, &got), QK_EINVAL);
    cr_assert(strstr(qk_errmsg(), "no window 4 (it has 4)") != NULL, "%s", qk_errmsg());
    cr_assert_eq(qk_window_get(t, 1, 0, &got), QK_ENOENT);
    cr_assert_eq(qk_window_get(NULL, 0, 0, &got), QK_EINVAL);
    cr_assert_eq(qk_window_get(t, 0, 0, NULL), QK_EINVAL);
    qk_tracker_free(t);
}
