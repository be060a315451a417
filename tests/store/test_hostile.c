/* A hostile or broken Redis cannot hold or bloat a host (issue 26, item 1): against a server
 * that drips its reply a byte at a time, sends a reply that never ends, announces an array of
 * 10^8 elements, or never answers (tests/support/hostile_resp.c), every store call a caller
 * makes (a consume that needs the store, a sync, qk_tracker_free, qk_store_init) returns within
 * the store timeout plus SLACK_MS, and the process's peak memory grows by less than
 * MAX_GROWTH_MB. And a host whose Redis restarts syncs again on its next call, with no error in
 * between: the closed connection is reopened at once.
 *
 * What each case catches: a timeout applied to each read rather than to the call (drip: every
 * byte arrives well inside a read timeout; before the fix a consume took seconds), a reply
 * buffered without a bound (endless: hundreds of MB before), an aggregate allocated as
 * announced (huge array: 789 MB before), a stale connection kept after the server restarted. */
#include <errno.h>
#include <stdint.h>

#include "clock.h"
#include "hostile_resp.h"
#include "store_test.h"

#include "procs.h"

TestSuite(store_hostile, .fini = qkt_servers_stop_all);

#define TIMEOUT_MS    200
#define SLACK_MS      300
#define MAX_GROWTH_MB 64

/* The process's peak resident memory, in kB. */
static long peak_kb(void)
{
    const long kb = qkt_peak_rss_kb();
    cr_assert_geq(kb, 0, "no VmHWM in /proc/self/status");
    return kb;
}

#define BOUNDED(what, call)                                                                        \
    do {                                                                                           \
        const int64_t t0_ = qkt_mono_ms();                                                         \
        const int rc_ = (call);                                                                    \
        const int64_t took_ = qkt_mono_ms() - t0_;                                                 \
        cr_assert_leq(took_, TIMEOUT_MS + SLACK_MS,                                                \
                      "%s took %lld ms (rc %s) with a %d ms timeout", what, (long long)took_,      \
                      qk_err_name(rc_), TIMEOUT_MS);                                               \
        cr_assert_neq(rc_, QK_OK, "%s succeeded against a hostile server", what);                  \
    } while (0)

static void against(qkt_resp_mode mode)
{
    qkt_hostile_resp h;
    cr_assert_eq(qkt_hostile_resp_start(&h, mode), 0, "hostile server: %s", strerror(errno));
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", h.port);
    const long before = peak_kb();

    BOUNDED("qk_store_init", qk_store_init(NULL, url, TIMEOUT_MS));
    const qk_service_def d = one_window("h", QK_MINUTE, 100, QK_OUTAGE_CLOSED, 0);
    const qk_options o = store_options(&d, 1, url, TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    BOUNDED("qk_try_consume", qk_try_consume(t, 0, 1, 0, NULL));
    BOUNDED("qk_store_sync", qk_store_sync(t));
    const int64_t t0 = qkt_mono_ms();
    qk_tracker_free(t);
    const int64_t took = qkt_mono_ms() - t0;
    cr_assert_leq(took, TIMEOUT_MS + SLACK_MS, "qk_tracker_free took %lld ms", (long long)took);

    const long grown_mb = (peak_kb() - before) / 1024;
    qkt_hostile_resp_stop(&h);
    cr_assert_lt(grown_mb, MAX_GROWTH_MB, "peak memory grew by %ld MB", grown_mb);
}

Test(store_hostile, a_dripping_reply, .timeout = 60)
{
    against(QKT_RESP_DRIP);
}

Test(store_hostile, a_reply_that_never_ends, .timeout = 60)
{
    against(QKT_RESP_ENDLESS);
}

Test(store_hostile, an_array_of_a_hundred_million, .timeout = 60)
{
    against(QKT_RESP_HUGE_ARRAY);
}

Test(store_hostile, a_server_that_never_answers, .timeout = 60)
{
    against(QKT_RESP_SILENT);
}

/* A Redis restart closes the host's connection; the next sync must reopen it and succeed. */
Test(store_hostile, a_sync_right_after_a_restart_succeeds, .timeout = 60)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    char url[64];
    redis_url(url, sizeof url, &srv);
    const qk_service_def d = one_window("r", QK_MINUTE, 100, QK_OUTAGE_CLOSED, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qkt_server_kill(&srv), 0, "%s", srv.error);
    cr_assert_eq(qkt_server_restart(&srv), 0, "%s", srv.error);
    cr_assert_eq(qk_store_sync(t), QK_OK, "the first sync after a restart: %s", qk_errmsg());
    qk_tracker_free(t);
}
