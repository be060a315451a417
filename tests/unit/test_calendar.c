/* Calendar windows: UTC-aligned boundaries per period, month lengths and leap rules, lazy
 * rollover, clocks that step back, QK_FOREVER, and independent rollover of several windows.
 * Black-box through the public API with an injected clock, plus white-box checks of
 * src/calendar.c against an independent day-counting oracle (tests/support/utc.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>

#include "clock.h"
#include "evrec.h"
#include "qkt_criterion.h"
#include "usage.h"
#include "utc.h"

#include "calendar.h"

/* One service "s" with the given windows (limit 0 ends the list), on a fresh tracker. */
static qk_tracker *one_service(qkt_clock *clk, qkt_evrec *log, const qk_window_def *w, unsigned n)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "s";
    for (unsigned i = 0; i < n; i++)
        d.windows[i] = w[i];
    return new_tracker(&d, 1, 0, clk, log);
}

static void assert_window(const qk_usage *u, unsigned i, int64_t start, int64_t end, uint64_t used)
{
    const qk_window_usage *w = &u->windows[i];
    cr_assert_eq(w->window_start_ms, start, "window %u start %lld, expected %lld", i,
                 (long long)w->window_start_ms, (long long)start);
    cr_assert_eq(w->reset_at_ms, end, "window %u reset_at %lld, expected %lld", i,
                 (long long)w->reset_at_ms, (long long)end);
    cr_assert_eq(w->used, used, "window %u used %llu, expected %llu", i,
                 (unsigned long long)w->used, (unsigned long long)used);
}

/* The oracle itself, anchored on values from Python's calendar.timegm. */
Test(calendar, oracle_matches_known_epoch_values)
{
    cr_assert_eq(qkt_utc(1970, 1, 1, 0, 0, 0, 0), 0);
    cr_assert_eq(qkt_utc(2024, 2, 29, 0, 0, 0, 0), INT64_C(1709164800000));
    cr_assert_eq(qkt_utc(2000, 3, 1, 0, 0, 0, 0), INT64_C(951868800000));
    cr_assert_eq(qkt_utc(1900, 3, 1, 0, 0, 0, 0), INT64_C(-2203891200000));
    cr_assert_eq(qkt_utc(2100, 3, 1, 0, 0, 0, 0), INT64_C(4107542400000));
    cr_assert_eq(qkt_utc(1969, 12, 1, 0, 0, 0, 0), INT64_C(-2678400000));
    cr_assert_eq(qkt_utc(1960, 2, 1, 0, 0, 0, 0), INT64_C(-312940800000));
    cr_assert_eq(qkt_utc(1899, 1, 1, 0, 0, 0, 0), INT64_C(-2240524800000));
}

/* A boundary test for one period: the last millisecond of a window keeps the count, the first
 * millisecond of the next one starts from zero (on the next access). */
static void boundary(qk_period p, int64_t window_start, int64_t window_end)
{
    qkt_clock clk;
    qkt_clock_set(&clk, window_end - 1);
    const qk_window_def w = {p, 1000};
    qk_tracker *t = one_service(&clk, NULL, &w, 1);

    qk_usage u = peek(t, 0);
    assert_window(&u, 0, window_start, window_end, 0);
    cr_assert_eq(u.reset_at_ms, window_end, "service reset_at is the binding window's");
    cr_assert_eq(qk_record(t, 0, 3, &u), QK_OK);
    assert_window(&u, 0, window_start, window_end, 3);

    qkt_clock_set(&clk, window_start); /* any time inside the window */
    cr_assert_eq(used_of(t, 0, 0), 3);

    qkt_clock_set(&clk, window_end);
    u = peek(t, 0);
    cr_assert_eq(u.windows[0].used, 0, "count did not roll over at the boundary");
    cr_assert_eq(u.windows[0].window_start_ms, window_end);
    cr_assert_gt(u.windows[0].reset_at_ms, window_end);
    cr_assert_eq(u.reset_at_ms, u.windows[0].reset_at_ms);
    qk_tracker_free(t);
}

Test(calendar, minute_boundary)
{
    boundary(QK_MINUTE, qkt_utc(2024, 5, 17, 10, 41, 0, 0), qkt_utc(2024, 5, 17, 10, 42, 0, 0));
}

Test(calendar, hour_boundary)
{
    boundary(QK_HOUR, qkt_utc(2024, 5, 17, 10, 0, 0, 0), qkt_utc(2024, 5, 17, 11, 0, 0, 0));
}

Test(calendar, day_boundary_is_utc_midnight)
{
    boundary(QK_DAY, qkt_utc(2024, 5, 17, 0, 0, 0, 0), qkt_utc(2024, 5, 18, 0, 0, 0, 0));
}

Test(calendar, month_boundary_is_first_of_month)
{
    boundary(QK_MONTH, qkt_utc(2024, 5, 1, 0, 0, 0, 0), qkt_utc(2024, 6, 1, 0, 0, 0, 0));
}

Test(calendar, next_window_bounds_after_rollover)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 10, 41, 59, 999));
    const qk_window_def w[3] = {{QK_MINUTE, 10}, {QK_HOUR, 100}, {QK_DAY, 1000}};
    qk_tracker *t = one_service(&clk, NULL, w, 3);
    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 10, 42, 0, 0));
    qk_usage u = peek(t, 0);
    assert_window(&u, 0, qkt_utc(2024, 5, 17, 10, 42, 0, 0), qkt_utc(2024, 5, 17, 10, 43, 0, 0), 0);
    assert_window(&u, 1, qkt_utc(2024, 5, 17, 10, 0, 0, 0), qkt_utc(2024, 5, 17, 11, 0, 0, 0), 0);
    assert_window(&u, 2, qkt_utc(2024, 5, 17, 0, 0, 0, 0), qkt_utc(2024, 5, 18, 0, 0, 0, 0), 0);
    cr_assert_eq(u.reset_at_ms, qkt_utc(2024, 5, 17, 10, 43, 0, 0),
                 "binding window: least remaining (the minute)");
    qk_tracker_free(t);
}

typedef struct {
    int y, m, days;
} month_case;

/* Month lengths: 30 and 31 days, February in common and leap years (2000 is leap, 1900 and 2100
 * are not), and December rolling into January of the next year. */
Test(calendar, month_lengths_and_leap_years)
{
    static const month_case cases[] = {
        {2023, 4, 30}, {2023, 5, 31}, {2023, 2, 28},  {2024, 2, 29},  {2000, 2, 29},
        {1900, 2, 28}, {2100, 2, 28}, {2023, 12, 31}, {2024, 12, 31}, {2023, 11, 30},
        {1996, 2, 29}, {2400, 2, 29}, {2023, 1, 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const month_case *c = &cases[i];
        const int ny = c->m == 12 ? c->y + 1 : c->y, nm = c->m == 12 ? 1 : c->m + 1;
        const int64_t start = qkt_utc(c->y, c->m, 1, 0, 0, 0, 0),
                      end = qkt_utc(ny, nm, 1, 0, 0, 0, 0);
        cr_assert_eq(end - start, c->days * QKT_DAY, "oracle: %d-%02d", c->y, c->m);

        qkt_clock clk;
        qkt_clock_set(&clk,
                      qkt_utc(c->y, c->m, c->days, 23, 59, 59, 999)); /* last ms of the month */
        const qk_window_def w = {QK_MONTH, 500};
        qk_tracker *t = one_service(&clk, NULL, &w, 1);
        qk_usage u = peek(t, 0);
        cr_assert_eq(u.windows[0].window_start_ms, start, "%d-%02d start", c->y, c->m);
        cr_assert_eq(u.windows[0].reset_at_ms, end, "%d-%02d has %d days", c->y, c->m, c->days);
        cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);

        qkt_clock_set(&clk, end);
        u = peek(t, 0);
        cr_assert_eq(u.windows[0].used, 0, "%d-%02d: no rollover at %d-%02d-01", c->y, c->m, ny,
                     nm);
        cr_assert_eq(u.windows[0].window_start_ms, end);
        cr_assert_eq(u.windows[0].reset_at_ms,
                     qkt_utc(nm == 12 ? ny + 1 : ny, nm == 12 ? 1 : nm + 1, 1, 0, 0, 0, 0));
        qk_tracker_free(t);
    }
}

Test(calendar, leap_day_is_inside_february)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2024, 2, 29, 12, 0, 0, 0));
    const qk_window_def w[2] = {{QK_DAY, 100}, {QK_MONTH, 1000}};
    qk_tracker *t = one_service(&clk, NULL, w, 2);
    cr_assert_eq(qk_record(t, 0, 7, NULL), QK_OK);
    qk_usage u = peek(t, 0);
    assert_window(&u, 0, qkt_utc(2024, 2, 29, 0, 0, 0, 0), qkt_utc(2024, 3, 1, 0, 0, 0, 0), 7);
    assert_window(&u, 1, qkt_utc(2024, 2, 1, 0, 0, 0, 0), qkt_utc(2024, 3, 1, 0, 0, 0, 0), 7);
    /* Feb 28 -> Feb 29 rolls the day but not the month. */
    qk_tracker_free(t);
    qkt_clock_set(&clk, qkt_utc(2024, 2, 28, 23, 59, 59, 999));
    t = one_service(&clk, NULL, w, 2);
    cr_assert_eq(qk_record(t, 0, 2, NULL), QK_OK);
    qkt_clock_set(&clk, qkt_utc(2024, 2, 29, 0, 0, 0, 0));
    u = peek(t, 0);
    assert_window(&u, 0, qkt_utc(2024, 2, 29, 0, 0, 0, 0), qkt_utc(2024, 3, 1, 0, 0, 0, 0), 0);
    assert_window(&u, 1, qkt_utc(2024, 2, 1, 0, 0, 0, 0), qkt_utc(2024, 3, 1, 0, 0, 0, 0), 2);
    qk_tracker_free(t);
}

/* The last millisecond of a year: every period ends at the new year and all roll together. */
Test(calendar, year_end_rolls_every_period)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2023, 12, 31, 23, 59, 59, 999));
    const qk_window_def w[4] = {
        {QK_MINUTE, 100}, {QK_HOUR, 1000}, {QK_DAY, 10000}, {QK_MONTH, 99999}};
    qk_tracker *t = one_service(&clk, NULL, w, 4);
    cr_assert_eq(qk_record(t, 0, 9, NULL), QK_OK);
    const int64_t ny = qkt_utc(2024, 1, 1, 0, 0, 0, 0);
    qk_usage u = peek(t, 0);
    assert_window(&u, 0, qkt_utc(2023, 12, 31, 23, 59, 0, 0), ny, 9);
    assert_window(&u, 1, qkt_utc(2023, 12, 31, 23, 0, 0, 0), ny, 9);
    assert_window(&u, 2, qkt_utc(2023, 12, 31, 0, 0, 0, 0), ny, 9);
    assert_window(&u, 3, qkt_utc(2023, 12, 1, 0, 0, 0, 0), ny, 9);
    qkt_clock_set(&clk, ny);
    u = peek(t, 0);
    assert_window(&u, 0, ny, ny + QKT_MIN, 0);
    assert_window(&u, 1, ny, ny + QKT_HOUR, 0);
    assert_window(&u, 2, ny, ny + QKT_DAY, 0);
    assert_window(&u, 3, ny, qkt_utc(2024, 2, 1, 0, 0, 0, 0), 0);
    qk_tracker_free(t);
}

/* Before 1970: windows still align on calendar boundaries (floor, not truncation toward 0). */
Test(calendar, negative_times_before_1970)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(1969, 12, 31, 23, 59, 30, 0)); /* -30000 */
    cr_assert_eq(atomic_load(&clk.ms), -30000);
    const qk_window_def w[4] = {
        {QK_MINUTE, 100}, {QK_HOUR, 1000}, {QK_DAY, 10000}, {QK_MONTH, 99999}};
    qk_tracker *t = one_service(&clk, NULL, w, 4);
    cr_assert_eq(qk_record(t, 0, 4, NULL), QK_OK);
    qk_usage u = peek(t, 0);
    assert_window(&u, 0, -QKT_MIN, 0, 4);
    assert_window(&u, 1, -QKT_HOUR, 0, 4);
    assert_window(&u, 2, -QKT_DAY, 0, 4);
    assert_window(&u, 3, INT64_C(-2678400000), 0, 4);
    qkt_clock_set(&clk, -1);
    cr_assert_eq(used_of(t, 0, 0), 4, "-1 ms is still in the 23:59 minute");
    qkt_clock_set(&clk, 0);
    u = peek(t, 0);
    assert_window(&u, 0, 0, QKT_MIN, 0);
    assert_window(&u, 3, 0, qkt_utc(1970, 2, 1, 0, 0, 0, 0), 0);
    qk_tracker_free(t);

    qkt_clock_set(&clk, qkt_utc(1960, 2, 29, 12, 0, 0, 0)); /* a leap day before the epoch */
    t = one_service(&clk, NULL, w, 4);
    u = peek(t, 0);
    assert_window(&u, 2, qkt_utc(1960, 2, 29, 0, 0, 0, 0), qkt_utc(1960, 3, 1, 0, 0, 0, 0), 0);
    assert_window(&u, 3, qkt_utc(1960, 2, 1, 0, 0, 0, 0), qkt_utc(1960, 3, 1, 0, 0, 0, 0), 0);
    qk_tracker_free(t);
}

/* A clock stepped back (NTP, a VM restore) must not move a window backwards: the calls count in
 * the current window, whose bounds stay put. */
Test(calendar, clock_stepping_back_never_moves_a_window_backwards)
{
    qkt_clock clk;
    const int64_t t0 = qkt_utc(2024, 5, 17, 10, 30, 30, 0);
    qkt_clock_set(&clk, t0);
    qkt_evrec log;
    qkt_evrec_init(&log);
    const qk_window_def w[2] = {{QK_MINUTE, 100}, {QK_DAY, 1000}};
    qk_tracker *t = one_service(&clk, &log, w, 2);
    cr_assert_eq(qk_record(t, 0, 5, NULL), QK_OK);

    qkt_clock_set(&clk, t0 - 80 * 1000); /* the previous minute */
    qk_usage u;
    cr_assert_eq(qk_record(t, 0, 2, &u), QK_OK);
    assert_window(&u, 0, qkt_utc(2024, 5, 17, 10, 30, 0, 0), qkt_utc(2024, 5, 17, 10, 31, 0, 0), 7);
    assert_window(&u, 1, qkt_utc(2024, 5, 17, 0, 0, 0, 0), qkt_utc(2024, 5, 18, 0, 0, 0, 0), 7);

    qkt_clock_set(&clk, t0 - 3 * QKT_DAY); /* days back */
    u = peek(t, 0);
    assert_window(&u, 0, qkt_utc(2024, 5, 17, 10, 30, 0, 0), qkt_utc(2024, 5, 17, 10, 31, 0, 0), 7);
    assert_window(&u, 1, qkt_utc(2024, 5, 17, 0, 0, 0, 0), qkt_utc(2024, 5, 18, 0, 0, 0, 0), 7);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 8);

    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 10, 30, 59, 999)); /* forward again, same minute */
    cr_assert_eq(used_of(t, 0, 0), 8);
    cr_assert_eq(qkt_evrec_count(&log), 0, "stepping back changed a level");

    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 10, 31, 0, 0));
    u = peek(t, 0);
    assert_window(&u, 0, qkt_utc(2024, 5, 17, 10, 31, 0, 0), qkt_utc(2024, 5, 17, 10, 32, 0, 0), 0);
    assert_window(&u, 1, qkt_utc(2024, 5, 17, 0, 0, 0, 0), qkt_utc(2024, 5, 18, 0, 0, 0, 0), 8);
    qk_tracker_free(t);
}

/* Nothing rolls in the background: the first access after the boundary rolls the window and
 * delivers the rollover's event in that access. A jump over many periods lands on the period
 * containing the new time, not the one right after the old window. */
Test(calendar, lazy_rollover_on_next_access)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 10, 30, 30, 0));
    qkt_evrec log;
    qkt_evrec_init(&log);
    const qk_window_def w = {QK_MINUTE, 10};
    qk_tracker *t = one_service(&clk, &log, &w, 1);
    cr_assert_eq(qk_record(t, 0, 5, NULL), QK_OK);
    cr_assert_eq(qkt_evrec_count(&log), 1); /* OK -> WARN */

    const int64_t later = qkt_utc(2024, 5, 20, 7, 12, 45, 500);
    qkt_clock_set(&clk, later);
    cr_assert_eq(qkt_evrec_count(&log), 1, "an event without any access");
    qk_usage u = peek(t, 0);
    cr_assert_eq(qkt_evrec_count(&log), 2, "the access that rolls delivers the event");
    assert_event(&log, 1, 0, 0, QK_LEVEL_WARN, QK_LEVEL_OK, 0, 10);
    cr_assert_eq(log.ev[1].window_start_ms, qkt_utc(2024, 5, 20, 7, 12, 0, 0));
    assert_window(&u, 0, qkt_utc(2024, 5, 20, 7, 12, 0, 0), qkt_utc(2024, 5, 20, 7, 13, 0, 0), 0);
    cr_assert_eq(u.level, QK_LEVEL_OK);

    /* A snapshot rolls too. */
    cr_assert_eq(qk_record(t, 0, 6, NULL), QK_OK);
    qkt_clock_set(&clk, later + QKT_HOUR);
    qk_usage all[1];
    size_t n = 0;
    cr_assert_eq(qk_snapshot(t, all, 1, &n), QK_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(all[0].windows[0].used, 0);
    cr_assert_eq(all[0].windows[0].window_start_ms, qkt_utc(2024, 5, 20, 8, 12, 0, 0));
    cr_assert_eq(qkt_evrec_count(&log), 4);
    assert_event(&log, 3, 0, 0, QK_LEVEL_WARN, QK_LEVEL_OK, 0, 10);
    qk_tracker_free(t);
}

/* QK_FOREVER: reset_at_ms is QK_NEVER and no clock jump resets it. */
Test(calendar, forever_never_resets)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 10, 30, 30, 0));
    const qk_window_def w[2] = {{QK_FOREVER, 100}, {QK_MINUTE, 50}};
    qk_tracker *t = one_service(&clk, NULL, w, 2);
    cr_assert_eq(qk_record(t, 0, 7, NULL), QK_OK);
    qk_usage u = peek(t, 0);
    cr_assert_eq(u.windows[0].reset_at_ms, QK_NEVER);
    cr_assert_eq(u.windows[0].period, QK_FOREVER);

    const int64_t jumps[] = {QKT_MIN, QKT_DAY, 400 * QKT_DAY, qkt_utc(2224, 1, 1, 0, 0, 0, 0)};
    for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) {
        qkt_clock_set(&clk, i < 3 ? qkt_utc(2024, 5, 17, 10, 30, 30, 0) + jumps[i] : jumps[i]);
        u = peek(t, 0);
        cr_assert_eq(u.windows[0].used, 7, "forever window reset after jump %zu", i);
        cr_assert_eq(u.windows[0].reset_at_ms, QK_NEVER);
        cr_assert_eq(u.windows[1].used, 0, "minute window must roll after jump %zu", i);
    }
    qk_tracker_free(t);

    /* Alone, the binding window's reset_at is QK_NEVER too. */
    t = one_service(&clk, NULL, w, 1);
    u = peek(t, 0);
    cr_assert_eq(u.reset_at_ms, QK_NEVER);
    qk_tracker_free(t);
}

/* Four windows of one service each roll at their own boundary and keep the others' counts. */
Test(calendar, several_windows_roll_independently)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2024, 3, 31, 22, 58, 30, 0));
    const qk_window_def w[4] = {
        {QK_MINUTE, 100}, {QK_HOUR, 1000}, {QK_DAY, 10000}, {QK_MONTH, 100000}};
    qk_tracker *t = one_service(&clk, NULL, w, 4);
    cr_assert_eq(qk_record(t, 0, 4, NULL), QK_OK);

    qkt_clock_set(&clk, qkt_utc(2024, 3, 31, 22, 59, 0, 0));
    qk_usage u;
    cr_assert_eq(qk_record(t, 0, 1, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 1);
    cr_assert_eq(u.windows[1].used, 5);
    cr_assert_eq(u.windows[2].used, 5);
    cr_assert_eq(u.windows[3].used, 5);

    qkt_clock_set(&clk, qkt_utc(2024, 3, 31, 23, 0, 0, 0));
    cr_assert_eq(qk_record(t, 0, 2, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 2);
    cr_assert_eq(u.windows[1].used, 2);
    cr_assert_eq(u.windows[2].used, 7);
    cr_assert_eq(u.windows[3].used, 7);

    qkt_clock_set(&clk, qkt_utc(2024, 4, 1, 0, 0, 0, 0));
    cr_assert_eq(qk_record(t, 0, 3, &u), QK_OK);
    for (unsigned i = 0; i < 4; i++)
        cr_assert_eq(u.windows[i].used, 3, "window %u", i);
    cr_assert_eq(u.windows[3].window_start_ms, qkt_utc(2024, 4, 1, 0, 0, 0, 0));
    cr_assert_eq(u.windows[3].reset_at_ms, qkt_utc(2024, 5, 1, 0, 0, 0, 0), "April has 30 days");
    qk_tracker_free(t);
}

/* Two services with different periods roll independently of each other too. */
Test(calendar, services_roll_independently)
{
    qkt_clock clk;
    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 10, 59, 59, 0));
    const qk_service_def defs[2] = {qkt_svc_def("finnhub", QK_MINUTE, 60, QK_MINUTE, 0),
                                    qkt_svc_def("tiingo", QK_MONTH, 500, QK_MINUTE, 0)};
    qk_tracker *t = new_tracker(defs, 2, 0, &clk, NULL);
    cr_assert_eq(qk_record(t, 0, 10, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 1, 20, NULL), QK_OK);
    qkt_clock_set(&clk, qkt_utc(2024, 5, 17, 11, 0, 0, 0));
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(used_of(t, 1, 0), 20);
    qk_tracker_free(t);
}

/* ---- white-box: src/calendar.c against the oracle ---- */

/* Every day from 1899 to 2101: the month containing any time of the day starts on the first of
 * that month and ends on the first of the next; days align on UTC midnight. */
Test(calendar_internal, every_day_1899_to_2101_matches_oracle)
{
    for (int y = 1899; y <= 2101; y++) {
        for (int m = 1; m <= 12; m++) {
            const int64_t ms = qkt_utc(y, m, 1, 0, 0, 0, 0);
            const int64_t me =
                m == 12 ? qkt_utc(y + 1, 1, 1, 0, 0, 0, 0) : qkt_utc(y, m + 1, 1, 0, 0, 0, 0);
            cr_assert_eq(qk__period_end(QK_MONTH, ms), me, "%d-%02d end", y, m);
            for (int d = 1; d <= qkt_month_days(y, m); d++) {
                const int64_t day = qkt_utc(y, m, d, 0, 0, 0, 0);
                const int64_t probes[3] = {day, day + 13 * QKT_HOUR + 7, day + QKT_DAY - 1};
                for (int k = 0; k < 3; k++) {
                    cr_assert_eq(qk__period_start(QK_MONTH, probes[k]), ms, "%d-%02d-%02d", y, m,
                                 d);
                    cr_assert_eq(qk__period_start(QK_DAY, probes[k]), day, "%d-%02d-%02d", y, m, d);
                }
                cr_assert_eq(qk__period_end(QK_DAY, day), day + QKT_DAY);
            }
        }
    }
}

Test(calendar_internal, minute_and_hour_floor_for_negative_times)
{
    cr_assert_eq(qk__period_start(QK_MINUTE, -1), -QKT_MIN);
    cr_assert_eq(qk__period_start(QK_MINUTE, -QKT_MIN), -QKT_MIN);
    cr_assert_eq(qk__period_start(QK_MINUTE, -QKT_MIN - 1), -2 * QKT_MIN);
    cr_assert_eq(qk__period_start(QK_MINUTE, 0), 0);
    cr_assert_eq(qk__period_start(QK_MINUTE, QKT_MIN - 1), 0);
    cr_assert_eq(qk__period_start(QK_HOUR, -1), -QKT_HOUR);
    cr_assert_eq(qk__period_start(QK_HOUR, QKT_HOUR), QKT_HOUR);
    cr_assert_eq(qk__period_start(QK_DAY, -1), -QKT_DAY);
    cr_assert_eq(qk__period_start(QK_MONTH, -1), INT64_C(-2678400000));
    cr_assert_eq(qk__period_end(QK_MINUTE, -QKT_MIN), 0);
    cr_assert_eq(qk__period_end(QK_HOUR, -QKT_HOUR), 0);
}

Test(calendar_internal, forever_and_extremes)
{
    cr_assert_eq(qk__period_end(QK_FOREVER, 0), QK_NEVER);
    cr_assert_eq(qk__period_end(QK_FOREVER, INT64_MIN), QK_NEVER);
    /* Ends past the int64 range saturate at QK_NEVER instead of overflowing. */
    cr_assert_eq(qk__period_end(QK_MINUTE, INT64_MAX - 10), QK_NEVER);
    cr_assert_eq(qk__period_end(QK_HOUR, INT64_MAX - QKT_HOUR + 1), QK_NEVER);
    cr_assert_eq(qk__period_end(QK_DAY, INT64_MAX - 5), QK_NEVER);
    cr_assert(qk__period_valid(QK_MINUTE) && qk__period_valid(QK_FOREVER));
    cr_assert(qk__period_valid(QK_SECOND) && qk__period_valid(QK_WEEK));
    cr_assert(!qk__period_valid(-1) && !qk__period_valid(QK_WEEK + 1));
}

/* The whole int64 clock range: no overflow (UBSan builds would abort), every window contains
 * its time, and a window ending at QK_NEVER (a saturated end, or QK_FOREVER) keeps its count
 * even when the clock reads INT64_MAX. */
Test(calendar, clock_extremes_keep_counts_and_contain_now)
{
    const int64_t times[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
    for (int p = QK_MINUTE; p <= QK_FOREVER; p++)
        for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
            qkt_clock clk;
            qkt_clock_set(&clk, times[i]);
            const qk_window_def w[1] = {{(qk_period)p, 10}};
            qk_tracker *t = one_service(&clk, NULL, w, 1);
            cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
            cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
            const qk_usage u = peek(t, 0);
            cr_assert_eq(u.windows[0].used, 2, "period %d at %lld lost its count", p,
                         (long long)times[i]);
            cr_assert(u.windows[0].window_start_ms <= times[i]);
            cr_assert(times[i] < u.windows[0].reset_at_ms || u.windows[0].reset_at_ms == QK_NEVER);
            qk_tracker_free(t);
        }
}
