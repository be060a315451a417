/* Window shapes of options version 4 (issue 22) in the fleet, on every backend: windows of one
 * period and of several with the same start, and the new periods, each counted apart.
 *
 * shapes_count_apart: one service with a minute and a quarter hour (every 15, which starts with
 * the minute at :00), an ISO week and a quarter of months, each of its own limit. A host records
 * and syncs; then each window's fleet limit and use, as the store answered them, are that
 * window's own. Catches two windows of one period and start that share the store's keys or item
 * attribute (the minute would answer with the quarter hour's limit, or its key would hold it), and
 * a period the backend cannot name. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "calendar.h"
#include "clock.h"
#include "qkt_criterion.h"
#include "qkt_store.h"

TestSuite(store_shapes, .fini = qkt_servers_stop_all, .timeout = 120);

enum { N_SHAPES = 4, USED = 7 };

Test(store_shapes, shapes_count_apart)
{
    qkt_server srv;
    char url[160];
    const qkc_backend *b = qkc_start(&srv, url, sizeof url);
    static const uint64_t limit[N_SHAPES] = {1000, 500, 300, 200};
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "shapes";
    d.windows[0] = (qk_window_def){.period = QK_MINUTE, .limit = limit[0]};
    d.windows[1] = (qk_window_def){.period = QK_MINUTE, .limit = limit[1], .every = 15};
    d.windows[2] = (qk_window_def){.period = QK_WEEK, .limit = limit[2]};
    d.windows[3] = (qk_window_def){.period = QK_MONTH, .limit = limit[3], .every = 3};
    /* A clock 5 s into the next quarter hour: the minute and the quarter hour started at the same
     * instant, and the keys' expiry (from the window's end) lies ahead of the server's clock. */
    qkt_clock clk;
    const int64_t quarter = 15 * QKT_MIN;
    qkt_clock_set(&clk, (qk__system_now_ms() / quarter + 1) * quarter + 5000);
    qk_options o = store_options(&d, 1, url, 5000, NULL);
    o.clock = qkt_clock_read;
    o.clock_ctx = &clk;
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_record(t, 0, USED, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    qk_store_service_info si;
    qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = &si, .cap = 1};
    cr_assert_eq(qk_store_status(t, &info), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(si.n_windows, N_SHAPES);
    for (unsigned w = 0; w < N_SHAPES; w++) {
        cr_expect_eq(si.windows[w].fleet_limit, limit[w], "window %u: the store's limit %llu", w,
                     (unsigned long long)si.windows[w].fleet_limit);
        cr_expect_eq(si.windows[w].fleet_used, USED + 1, "window %u: the fleet used %llu", w,
                     (unsigned long long)si.windows[w].fleet_used);
    }
    /* The store's own record of the one-minute window and of the week: their own limits and
     * counts (a quarter hour sharing the minute's key would leave its limit there). */
    qkc_view v;
    b->view(&srv, "shapes", 'm', &v);
    cr_expect_eq(v.L, limit[0], "the minute's key holds L %llu", (unsigned long long)v.L);
    cr_expect_eq(v.U, USED + 1, "the minute's key holds U %llu", (unsigned long long)v.U);
    b->view(&srv, "shapes", 'w', &v);
    cr_expect_eq(v.L, limit[2], "the week's key holds L %llu", (unsigned long long)v.L);
    qk_tracker_free(t);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* zoned_days_count_apart_in_one_fleet: one service with a UTC day (limit 1000), a Los Angeles day
 * (300) and a Kolkata day (200, an offset of 5 h 30), and two hosts racing consumes until each is
 * refused. The fleet is granted exactly the tightest limit, 200; each window's record in the store
 * holds its own L and U = 200; and the zoned records start at their local midnights: 8 h (7 h in
 * summer) after a UTC midnight for Los Angeles, 18:30 UTC for Kolkata. Catches a zoned window
 * that shares the UTC day's keys or item attribute (one record, or a limit mixed up), one whose
 * bounds are the UTC day's (a start at 00:00 UTC), and a backend that cannot name a zone. */
enum { ZONED_HOSTS = 2, ZONED_TIGHTEST = 200 };

typedef struct {
    qk_options o;
    uint64_t granted;
} zoned_host;

static void *zoned_consume(void *arg)
{
    zoned_host *h = arg;
    qk_tracker *t = store_tracker(&h->o);
    /* Bounded: at most the tightest limit is granted, and a refusal ends the loop. */
    for (int i = 0; i < 4 * ZONED_TIGHTEST; i++) {
        const int rc = qk_try_consume(t, 0, 1, 0, NULL);
        if (rc == QK_ELIMIT)
            break;
        cr_assert_eq(rc, QK_OK, "%s", qk_errmsg());
        h->granted++;
    }
    qk_tracker_free(t);
    return NULL;
}

/* Waits, when a day of the three ends within the next 30 s, until it has: the hosts' windows and
 * the store's time must stay inside one day of each zone for the whole test. */
static void away_from_midnights(void)
{
    static const int64_t end_of_day_utc[] = {0, 7 * QKT_HOUR, 8 * QKT_HOUR,
                                             18 * QKT_HOUR + 30 * QKT_MIN};
    for (int tries = 0; tries < 4; tries++) {
        const int64_t now = qk__system_now_ms() % QKT_DAY;
        int64_t wait = 0;
        for (unsigned i = 0; i < sizeof end_of_day_utc / sizeof end_of_day_utc[0]; i++) {
            const int64_t ahead = ((end_of_day_utc[i] - now) % QKT_DAY + QKT_DAY) % QKT_DAY;
            if (ahead < 30000 && ahead + 1000 > wait)
                wait = ahead + 1000;
        }
        if (wait == 0)
            return;
        const struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

Test(store_shapes, zoned_days_count_apart_in_one_fleet)
{
    qkt_server srv;
    char url[160];
    const qkc_backend *b = qkc_start(&srv, url, sizeof url);
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "zoned";
    d.windows[0] = (qk_window_def){.period = QK_DAY, .limit = 1000};
    d.windows[1] = (qk_window_def){.period = QK_DAY, .limit = 300, .tz = "America/Los_Angeles"};
    d.windows[2] = (qk_window_def){.period = QK_DAY, .limit = ZONED_TIGHTEST, .tz = "Asia/Kolkata"};
    away_from_midnights();
    zoned_host h[ZONED_HOSTS];
    pthread_t th[ZONED_HOSTS];
    for (int i = 0; i < ZONED_HOSTS; i++) {
        h[i] = (zoned_host){store_options(&d, 1, url, 5000, NULL), 0};
        cr_assert_eq(pthread_create(&th[i], NULL, zoned_consume, &h[i]), 0);
    }
    uint64_t granted = 0;
    for (int i = 0; i < ZONED_HOSTS; i++) {
        pthread_join(th[i], NULL);
        granted += h[i].granted;
    }
    cr_expect_eq(granted, ZONED_TIGHTEST, "the fleet was granted %llu",
                 (unsigned long long)granted);
    qkc_view utc, la, kolkata;
    b->view_in(&srv, "zoned", 'd', NULL, &utc);
    b->view_in(&srv, "zoned", 'd', "America/Los_Angeles", &la);
    b->view_in(&srv, "zoned", 'd', "Asia/Kolkata", &kolkata);
    cr_expect_eq(utc.L, 1000, "the UTC day holds L %llu", (unsigned long long)utc.L);
    cr_expect_eq(la.L, 300, "the Los Angeles day holds L %llu", (unsigned long long)la.L);
    cr_expect_eq(kolkata.L, ZONED_TIGHTEST, "the Kolkata day holds L %llu",
                 (unsigned long long)kolkata.L);
    const qkc_view *all[] = {&utc, &la, &kolkata};
    for (unsigned i = 0; i < 3; i++)
        cr_expect_eq(all[i]->U, granted, "window %u: U %llu for %llu granted", i,
                     (unsigned long long)all[i]->U, (unsigned long long)granted);
    cr_expect_eq(utc.start_ms % QKT_DAY, 0, "the UTC day starts at %lld", (long long)utc.start_ms);
    const int64_t la_hour = la.start_ms % QKT_DAY;
    cr_expect(la_hour == 8 * QKT_HOUR || la_hour == 7 * QKT_HOUR,
              "the Los Angeles day starts %lld ms after a UTC midnight", (long long)la_hour);
    cr_expect_eq((kolkata.start_ms + 5 * QKT_HOUR + 30 * QKT_MIN) % QKT_DAY, 0,
                 "the Kolkata day starts at %lld", (long long)kolkata.start_ms);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}
