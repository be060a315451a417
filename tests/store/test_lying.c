/* A lying Redis cannot poison a host, end to end (issue 26, items 2 and 6): a real redis-server
 * behind a relay that rewrites its well-formed replies (tests/support/hostile_resp.c,
 * QKT_RESP_LIE), so every other figure is the real server's and only the lie is false.
 *
 * - Its clock 100 years ahead (TIME, and the time that leads the sync script's reply): a
 *   minute and a day window stay in the local period and keep every admitted call. Before the
 *   clock bound (ac7bc58) the host took the offset and its windows moved to 2126.
 * - This host's use said to be 0 (the reply's U in every window): the windows still show what
 *   this host admitted. Before the own-use floor (ac7bc58) a peek showed the answer's 0 plus
 *   what came after it.
 * Then the relay tells the truth again: the host syncs at once and counts exactly, by its own
 * peek and by the real server's U. The lies are counted by the relay, so a pass cannot come
 * from lies that never reached the host. */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "hostile_resp.h"
#include "store_test.h"

TestSuite(store_lying, .fini = qkt_servers_stop_all, .timeout = 60);

#define FIRST 30 /* calls admitted while the relay lies */
#define AFTER 10 /* and after it stops */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The checks count exactly within one minute (and so one day): a case that would start in a
 * minute's last 15 s waits for the next one (each takes about a second). A precondition, not a
 * verdict: nothing asserted depends on how long anything took. */
static void wait_for_early_minute(void)
{
    while (wall_ms() % 60000 >= 45000)
        sleep_ms(100);
}

static const qk_service_def svc = {
    .name = "lie",
    .windows = {{QK_MINUTE, 1000}, {QK_DAY, 100000}},
    .outage = QK_OUTAGE_CLOSED, /* a call is admitted only on a lease the store granted */
};

static void consume_n(qk_tracker *t, int n)
{
    for (int i = 0; i < n; i++) {
        const int rc = qk_try_consume(t, 0, 1, 0, NULL);
        cr_assert_eq(rc, QK_OK, "consume %d: %s (%s)", i + 1, qk_err_name(rc), qk_errmsg());
        if (i % 10 == 9)
            cr_assert_eq(qk_store_sync(t), QK_OK, "sync after %d: %s", i + 1, qk_errmsg());
    }
}

/* Each window is the local one (it holds the local clock's now, and is a whole UTC minute or
 * day) and shows at least `least` and at most `most` calls. */
static void check_windows(qk_tracker *t, uint64_t least, uint64_t most, const char *when)
{
    const int64_t before = wall_ms();
    qk_usage u;
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK, "%s: peek: %s", when, qk_errmsg());
    const int64_t after = wall_ms();
    cr_assert_eq(u.n_windows, 2);
    static const int64_t len[2] = {60000, 86400000};
    for (unsigned i = 0; i < 2; i++) {
        const qk_window_usage *w = &u.windows[i];
        cr_assert(w->window_start_ms <= after && w->reset_at_ms > before,
                  "%s: window %u is [%lld, %lld), the local clock says %lld", when, i,
                  (long long)w->window_start_ms, (long long)w->reset_at_ms, (long long)before);
        cr_assert_eq(w->reset_at_ms - w->window_start_ms, len[i], "%s: window %u is %lld ms long",
                     when, i, (long long)(w->reset_at_ms - w->window_start_ms));
        cr_assert_eq(w->window_start_ms % len[i], 0, "%s: window %u starts at %lld", when, i,
                     (long long)w->window_start_ms);
        cr_assert(w->used >= least && w->used <= most,
                  "%s: window %u shows %llu calls; this host admitted %llu", when, i,
                  (unsigned long long)w->used, (unsigned long long)least);
    }
}

/* The real server's U for each window: exactly `want`. */
static void check_store(int port, uint64_t want)
{
    char key[128];
    static const char letters[2] = {'m', 'd'};
    for (unsigned i = 0; i < 2; i++) {
        window_key(key, sizeof key, port, "lie", letters[i]);
        cr_assert_eq(hget_u64(port, key, "U"), want, "the store's U of %s", key);
        /* The key names the local window's start, not one a century on. */
        const long long start = strtoll(strrchr(key, ':') + 1, NULL, 10);
        const int64_t now = wall_ms();
        cr_assert(start <= now && now - start < (i == 0 ? 60000 : 86400000),
                  "the store's key %s is not the local window (now %lld)", key, (long long)now);
    }
}

static void lie_then_truth(unsigned lies)
{
    wait_for_early_minute();
    qkt_server srv;
    start_redis(&srv, NULL);
    qkt_hostile_resp relay;
    cr_assert_eq(qkt_hostile_resp_relay(&relay, srv.port, lies), 0, "relay: %s", strerror(errno));
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", relay.port);
    const qk_options o = store_options(&svc, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);

    /* The first call waits for the first answer, a lie. */
    consume_n(t, 1);
    cr_assert_gt(atomic_load(&relay.told), 0, "the relay told no lie to the first sync");
    check_windows(t, 1, 1, "after the first lying answer");
    consume_n(t, FIRST - 1);
    /* The last thing the host heard is a lie: a sync with nothing new since. */
    const unsigned told = atomic_load(&relay.told);
    cr_assert_eq(qk_store_sync(t), QK_OK, "the last lying sync: %s", qk_errmsg());
    cr_assert_gt(atomic_load(&relay.told), told, "the relay told no lie to the last sync");
    check_windows(t, FIRST, FIRST, "after the lies");

    /* The truth again: the same connection, no error, exact counts. */
    qkt_hostile_resp_lie(&relay, 0);
    const unsigned lies_told = atomic_load(&relay.told);
    cr_assert_eq(qk_store_sync(t), QK_OK, "the first true sync: %s", qk_errmsg());
    consume_n(t, AFTER);
    cr_assert_eq(qk_store_sync(t), QK_OK, "the last sync: %s", qk_errmsg());
    cr_assert_eq(atomic_load(&relay.told), lies_told, "the relay lied after it was told not to");
    check_windows(t, FIRST + AFTER, FIRST + AFTER, "after the truth");
    check_store(srv.port, FIRST + AFTER);
    qk_tracker_free(t);
    qkt_hostile_resp_stop(&relay);
}

/* Catches: the store's clock believed however far off (the windows moved to 2126, a day window
 * at 0 after the calls it admitted), and a host that cannot sync once the clock is true. */
Test(store_lying, a_clock_a_century_ahead)
{
    lie_then_truth(QKT_LIE_TIME);
}

/* Catches: the fleet's use taken from the answer alone (a peek at 0 after 30 admitted). */
Test(store_lying, an_answer_that_this_host_used_nothing)
{
    lie_then_truth(QKT_LIE_NO_USE);
}

/* Both lies in the same answers. */
Test(store_lying, both_lies_at_once)
{
    lie_then_truth(QKT_LIE_TIME | QKT_LIE_NO_USE);
}

/* A rolling window's piece is used only while the host's clock places it in the piece
 * (docs/store.md, "Rolling windows: leased in pieces"): with the store's clock a century ahead
 * the offset is not believed, so every grant of a piece goes back unused, and a consume that
 * waited for one is decided by the outage policy (QK_OUTAGE_CLOSED: QK_EUNAVAIL), never granted
 * and never told QK_ELIMIT, which would say the fleet had nothing left. The truth again: granted.
 * Catches a piece's grant used on a clock the host does not believe, and the untrusted answer's
 * consume reported as the store having nothing left. */
Test(store_lying, a_clock_a_century_ahead_gives_a_rolling_window_nothing_usable)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    qkt_hostile_resp relay;
    cr_assert_eq(qkt_hostile_resp_relay(&relay, srv.port, QKT_LIE_TIME), 0, "relay: %s",
                 strerror(errno));
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", relay.port);
    const qk_service_def rolling = {
        .name = "lie_rolling",
        .windows = {{QK_MINUTE, 1000, .flags = QK_WINDOW_ROLLING}},
        .outage = QK_OUTAGE_CLOSED,
    };
    const qk_options o = store_options(&rolling, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    for (int i = 0; i < 5; i++) {
        const int rc = qk_try_consume(t, 0, 1, 0, NULL);
        cr_assert_eq(rc, QK_EUNAVAIL, "consume %d on a lying clock: %s (%s)", i + 1,
                     qk_err_name(rc), qk_errmsg());
    }
    cr_assert_gt(atomic_load(&relay.told), 0, "the relay told no lie");
    qk_usage u;
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].used, 0, "the host counted %llu calls on a lying clock",
                 (unsigned long long)u.windows[0].used);
    qkt_hostile_resp_lie(&relay, 0);
    cr_assert_eq(qk_store_sync(t), QK_OK, "the first true sync: %s", qk_errmsg());
    for (int i = 0; i < 5; i++) {
        const int rc = qk_try_consume(t, 0, 1, 0, NULL);
        cr_assert_eq(rc, QK_OK, "consume %d on the true clock: %s (%s)", i + 1, qk_err_name(rc),
                     qk_errmsg());
    }
    qk_tracker_free(t);
    qkt_hostile_resp_stop(&relay);
}
