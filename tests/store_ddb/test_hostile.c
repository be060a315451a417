/* A hostile or broken DynamoDB endpoint cannot hold, bloat or poison a host (issue 26, items 1,
 * 2 and 6), through tests/support/hostile_http.c in front of a real dynalite.
 *
 * Against an endpoint that drips its body a byte every 20 ms, sends a chunked body that never
 * ends, announces a body of 1 GB, never answers, or sends its header lines a byte at a time,
 * every store call a caller makes (a consume that needs the store, qk_store_sync,
 * qk_tracker_free) returns within the store timeout plus SLACK_MS with a specific code and a
 * message naming the endpoint, and the process's peak memory grows by less than MAX_GROWTH_MB.
 * Then the same endpoint turns correct (relays to dynalite) and the same tracker syncs again at
 * once, by itself: nothing to reopen.
 *
 * And an endpoint relaying dynalite's answers with a Date header from the far future (9999, or
 * 100 years ahead) moves no window and erases no count: its answers are refused (QK_EIO, naming
 * the Date), a minute and a day window still end within the local period, the day window still
 * counts what the fleet used (this host's calls and another host's, which the store keeps), and
 * when the true Date returns the host syncs and keeps counting.
 *
 * What each case catches: a timeout applied per read or to the connect only (drip, slow headers,
 * silent: without a whole-call deadline a consume waits for the whole answer, seconds), a body
 * buffered without a bound (chunked: no Content-Length to refuse up front; huge: hundreds of MB
 * in the timeout's time), the store's clock believed without a bound (a window of year 10000),
 * and a merge run at the lying time (it dropped every window of the item as ended: the other
 * host's 7 calls vanished from the store and from this host's view). */
#include <errno.h>
#include <stdint.h>

#include "ddb_test.h"
#include "hostile_http.h"

#include "procs.h"

TestSuite(ddb_hostile, .fini = qkt_servers_stop_all, .timeout = 120);

#define TIMEOUT_MS    200
#define SLACK_MS      300
#define MAX_GROWTH_MB 16

/* The process's peak resident memory, in kB. */
static long peak_kb(void)
{
    const long kb = qkt_peak_rss_kb();
    cr_assert_geq(kb, 0, "no VmHWM in /proc/self/status");
    return kb;
}

static const char *const mode_names[] = {"drip",   "endless chunked", "huge body",
                                         "silent", "slow headers",    "forward"};

/* A call against the hostile endpoint: within the timeout plus SLACK_MS, the code expected, a
 * message naming the endpoint, and at least one request read by the endpoint while it ran (the
 * call did reach it). The time is printed: the figures the docs quote. */
#define BOUNDED(h, what, call, want_rc, endpoint)                                                  \
    do {                                                                                           \
        const unsigned asked_ = atomic_load(&(h)->requests);                                       \
        const int64_t t0_ = qkt_mono_ms();                                                         \
        const int rc_ = (call);                                                                    \
        const int64_t took_ = qkt_mono_ms() - t0_;                                                 \
        char msg_[512];                                                                            \
        snprintf(msg_, sizeof msg_, "%s", qk_errmsg());                                            \
        fprintf(stderr, "ddb_hostile: %-15s %-14s %4lld ms  %s: %s\n",                             \
                mode_names[atomic_load(&(h)->mode)], what, (long long)took_, qk_err_name(rc_),     \
                msg_);                                                                             \
        cr_assert_leq(took_, TIMEOUT_MS + SLACK_MS,                                                \
                      "%s took %lld ms (rc %s) with a %d ms timeout", what, (long long)took_,      \
                      qk_err_name(rc_), TIMEOUT_MS);                                               \
        cr_assert_eq(rc_, (want_rc), "%s: %s, not %s: %s", what, qk_err_name(rc_),                 \
                     qk_err_name(want_rc), msg_);                                                  \
        cr_assert_gt(atomic_load(&(h)->requests), asked_, "%s sent the endpoint nothing", what);   \
        cr_assert(strstr(msg_, (endpoint)) != NULL, "%s: the message does not name %s: %s", what,  \
                  (endpoint), msg_);                                                               \
    } while (0)

static void against(qkt_http_mode mode, int want_rc, const char *want_words)
{
    qkt_server srv;
    start_dynalite(&srv);
    static qkt_hostile_http h; /* static: its thread may outlive a failed assertion's frame */
    cr_assert_eq(qkt_hostile_http_start(&h, mode, srv.port), 0, "hostile endpoint: %s",
                 strerror(errno));
    char url[128], endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", h.port);
    snprintf(url, sizeof url, "dynamodb://" TABLE "?region=us-east-1&endpoint=%s", endpoint);
    const long before = peak_kb();

    const qk_service_def d = one_window("h", QK_FOREVER, 100, QK_OUTAGE_CLOSED, 0);
    const qk_options o = store_options(&d, 1, url, TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    /* A consume needs a lease from the store; the closed policy refuses it without one. Its
     * message is the policy's; the store's own error, naming the endpoint, is in the status. */
    BOUNDED(&h, "qk_try_consume", qk_try_consume(t, 0, 1, 0, NULL), QK_EUNAVAIL, "");
    status_buf sb;
    cr_assert(strstr(status_of(t, &sb)->last_error, endpoint) != NULL,
              "the store's last error does not name %s: %s", endpoint, sb.info.last_error);
    cr_assert_eq(qk_record(t, 0, 2, NULL), QK_OK, "%s", qk_errmsg());
    BOUNDED(&h, "qk_store_sync", qk_store_sync(t), want_rc, endpoint);
    cr_assert(strstr(qk_errmsg(), want_words) != NULL, "qk_store_sync: %s", qk_errmsg());
    /* qk_tracker_free of another tracker with a record to deliver: it calls the store. */
    qk_tracker *u = store_tracker(&o);
    cr_assert_eq(qk_record(u, 0, 1, NULL), QK_OK, "%s", qk_errmsg());
    const unsigned asked = atomic_load(&h.requests);
    const int64_t t0 = qkt_mono_ms();
    qk_tracker_free(u);
    const int64_t took = qkt_mono_ms() - t0;
    fprintf(stderr, "ddb_hostile: %-15s %-14s %4lld ms\n", mode_names[mode], "qk_tracker_free",
            (long long)took);
    cr_assert_leq(took, TIMEOUT_MS + SLACK_MS, "qk_tracker_free took %lld ms", (long long)took);
    cr_assert_gt(atomic_load(&h.requests), asked, "qk_tracker_free sent the endpoint nothing");

    const long grown_mb = (peak_kb() - before) / 1024;
    fprintf(stderr, "ddb_hostile: %-15s peak memory grew by %ld MB\n", mode_names[mode], grown_mb);
    cr_assert_lt(grown_mb, MAX_GROWTH_MB, "peak memory grew by %ld MB", grown_mb);

    /* The endpoint turns correct: the same tracker's next sync succeeds, nothing reopened; the
     * degraded state it may have entered (3 failures in a row) ends after 5 successes in a row
     * (docs/store.md, "Outage"), and then consumes are granted again. */
    qkt_hostile_http_set(&h, QKT_HTTP_FORWARD, 0);
    cr_assert_eq(qk_store_sync(t), QK_OK, "the first sync once the endpoint is correct: %s",
                 qk_errmsg());
    for (int i = 0; i < 5 && status_of(t, &sb)->degraded; i++)
        cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(status_of(t, &sb)->degraded, 0, "still degraded after 6 good syncs");
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(used_of(t, 0, 0), 3);
    const fleet_view f = fleet_of(srv.port, "h", 'f');
    cr_assert_eq(f.U, 3, "the store holds U %llu, not the 3 calls this host made",
                 (unsigned long long)f.U);
    qk_tracker_free(t);
    qkt_hostile_http_stop(&h);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

Test(ddb_hostile, a_dripping_body)
{
    against(QKT_HTTP_DRIP, QK_EUNAVAIL, "no answer in time");
}

Test(ddb_hostile, a_chunked_body_that_never_ends)
{
    against(QKT_HTTP_ENDLESS_CHUNKED, QK_EIO, "an answer over");
}

Test(ddb_hostile, a_body_of_a_gigabyte)
{
    against(QKT_HTTP_HUGE_BODY, QK_EIO, "an answer over");
}

Test(ddb_hostile, an_endpoint_that_never_answers)
{
    against(QKT_HTTP_SILENT, QK_EUNAVAIL, "no answer in time");
}

Test(ddb_hostile, header_lines_a_byte_at_a_time)
{
    against(QKT_HTTP_SLOW_HEADERS, QK_EUNAVAIL, "no answer in time");
}

/* ---- a Date header from the far future ---- */

#define YEAR_9999_S INT64_C(253402300799) /* Fri, 31 Dec 9999 23:59:59 GMT */
#define MINUTE_MS   INT64_C(60000)
#define DAY_MS      INT64_C(86400000)

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* t's minute and day windows end on their period's boundary within one period of the local
 * clock (give or take the second a true store's offset may add), the day window counts want
 * (what the fleet used: a store tracker's window shows the fleet's use), and the store's clock
 * is believed within that second. */
static void local_windows(qk_tracker *t, uint64_t want, const char *when)
{
    const int64_t before = wall_ms();
    const qk_usage u = peek(t, 0);
    const int64_t after = wall_ms();
    static const int64_t len[2] = {MINUTE_MS, DAY_MS};
    for (unsigned w = 0; w < 2; w++) {
        const int64_t reset = u.windows[w].reset_at_ms;
        fprintf(stderr, "ddb_hostile: %s: %s window resets %lld ms from now, used %llu\n", when,
                w == 0 ? "minute" : "day", (long long)(reset - after),
                (unsigned long long)u.windows[w].used);
        cr_assert(reset % len[w] == 0 && reset > before - 1000 && reset <= after + len[w] + 1000,
                  "%s: the %s window resets at %lld ms, %lld ms from now: not within the local "
                  "period",
                  when, w == 0 ? "minute" : "day", (long long)reset, (long long)(reset - after));
        cr_assert_eq(u.windows[w].window_start_ms, reset - len[w], "%s", when);
    }
    cr_assert_eq(u.windows[1].used, want,
                 "%s: the day window counts %llu, not the %llu the fleet used", when,
                 (unsigned long long)u.windows[1].used, (unsigned long long)want);
    status_buf sb;
    const int64_t offset = status_of(t, &sb)->clock_offset_ms;
    cr_assert(offset >= -1000 && offset <= 1000, "%s: the store's clock is believed %lld ms off",
              when, (long long)offset);
}

static void lying_date(int64_t date_s, const char *what)
{
    /* The day window must not roll while this runs (about 5 s): start clear of midnight. */
    while (wall_ms() % DAY_MS > DAY_MS - 30000)
        sleep_ms(1000);
    qkt_server srv;
    start_dynalite(&srv);
    static qkt_hostile_http h; /* static: its thread may outlive a failed assertion's frame */
    cr_assert_eq(qkt_hostile_http_start(&h, QKT_HTTP_FORWARD, srv.port), 0, "relay: %s",
                 strerror(errno));
    char url[128], direct[128];
    snprintf(url, sizeof url, "dynamodb://" TABLE "?region=us-east-1&endpoint=http://127.0.0.1:%d",
             h.port);
    ddb_url(direct, sizeof direct, &srv, TABLE);
    qk_service_def d = one_window("lie", QK_MINUTE, 1000, QK_OUTAGE_CLOSED, 0);
    d.windows[1].period = QK_DAY;
    d.windows[1].limit = 10000;
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    /* Another host of the fleet, straight to dynalite: what the lie must not erase. */
    const qk_options od = store_options(&d, 1, direct, CALM_TIMEOUT_MS, NULL);
    qk_tracker *other = store_tracker(&od);
    cr_assert_eq(qk_record(other, 0, 7, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(other), QK_OK, "%s", qk_errmsg());

    uint64_t admitted = 0;
    for (int i = 0; i < 5; i++, admitted++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    local_windows(t, 7 + admitted, "before the lie");

    qkt_hostile_http_set(&h, QKT_HTTP_FORWARD, date_s);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(qk_record(t, 0, 2, NULL), QK_OK, "%s", qk_errmsg());
        admitted += 2;
        const int rc = qk_store_sync(t);
        fprintf(stderr, "ddb_hostile: a Date %s: qk_store_sync %s: %s\n", what, qk_err_name(rc),
                rc == QK_OK ? "" : qk_errmsg());
        /* Refused, so nothing is merged at the lying time (the store keeps the fleet's use). */
        cr_assert_eq(rc, QK_EIO, "a sync whose answers carry a Date %s: %s", what, qk_err_name(rc));
        cr_assert(strstr(qk_errmsg(), "Date header") != NULL, "%s", qk_errmsg());
        local_windows(t, 7 + admitted, what);
    }
    cr_assert_gt(atomic_load(&h.dates_rewritten), 0, "no answer carried the lying Date");
    const fleet_view f = fleet_of(srv.port, "lie", 'd');
    cr_assert_geq(f.U, 7 + 5,
                  "the store's day window holds U %llu: the lying Date erased what the fleet "
                  "used (7 by another host, 5 by this one, synced before the lie)",
                  (unsigned long long)f.U);

    /* The real Date again: the host syncs and keeps counting. */
    qkt_hostile_http_set(&h, QKT_HTTP_FORWARD, 0);
    cr_assert_eq(qk_store_sync(t), QK_OK, "the first sync with a true Date: %s", qk_errmsg());
    status_buf sb;
    for (int i = 0; i < 5 && status_of(t, &sb)->degraded; i++)
        cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    for (int i = 0; i < 3; i++, admitted++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    local_windows(t, 7 + admitted, "after the lie");
    cr_assert_eq(qk_store_sync(other), QK_OK, "%s", qk_errmsg());
    const fleet_view g = fleet_of(srv.port, "lie", 'd');
    cr_assert_eq(g.U, 7 + admitted, "the store's day window holds U %llu, not %llu",
                 (unsigned long long)g.U, (unsigned long long)(7 + admitted));
    qk_tracker_free(other);
    qk_tracker_free(t);
    qkt_hostile_http_stop(&h);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

Test(ddb_hostile, a_date_in_the_year_9999_moves_no_window)
{
    lying_date(YEAR_9999_S, "in 9999");
}

Test(ddb_hostile, a_date_a_hundred_years_ahead_moves_no_window)
{
    lying_date((int64_t)time(NULL) + INT64_C(100) * 365 * 86400, "100 years ahead");
}
