/* Window shapes of options version 4 (issue 22) in the fleet, on every backend: windows of one
 * period and of several with the same start, and the new periods, each counted apart.
 *
 * shapes_count_apart: one service with a minute and a quarter hour (every 15, which starts with
 * the minute at :00), an ISO week and a quarter of months, each of its own limit. A host records
 * and syncs; then each window's fleet limit and use, as the store answered them, are that
 * window's own. Catches two windows of one period and start that share the store's keys or item
 * attribute (the minute would answer with the quarter hour's limit, or its key would hold it), and
 * a period the backend cannot name. */
#include <string.h>

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
