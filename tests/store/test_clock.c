/* Clock skew at a window boundary: a host whose clock runs 2 s ahead of the server (or behind
 * it) meets a minute's boundary. The script grants only inside the window by the server's time,
 * so the host ahead gets nothing for the next minute before the server reaches it, and the host
 * behind gets nothing for the minute the server has left; each then syncs its clock to the
 * server's (the offset in qk_store_status) and goes on in the server's window.
 *
 * Real minute boundaries of the server's clock (Redis TIME cannot be moved): the test waits for
 * the next one, up to a minute, asleep; it runs as its own ctest so the others run meanwhile. */
#include <time.h>

#include "store_test.h"

TestSuite(store_clock, .fini = qkt_servers_stop_all, .timeout = 150);

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    int64_t skew_ms;
} skewed;

/* The host's clock: the real one (the server's, on this machine) moved by skew_ms. */
static int64_t skewed_clock(void *ctx)
{
    return real_ms() + ((const skewed *)ctx)->skew_ms;
}

static int64_t server_ms(int port)
{
    redisReply *r = rcmd(port, "TIME");
    cr_assert_eq(r->elements, 2);
    const int64_t ms =
        strtoll(r->element[0]->str, NULL, 10) * 1000 + strtoll(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);
    return ms;
}

/* Sleeps until the server's clock is `from` to `to` ms into a minute. */
static void wait_into_minute(int port, int64_t from, int64_t to)
{
    for (;;) {
        const int64_t in = server_ms(port) % QKT_MIN;
        if (in >= from && in <= to)
            return;
        const int64_t wait = (from - in + QKT_MIN) % QKT_MIN;
        sleep_ms(wait > 20 ? wait - 10 : 5);
    }
}

static qk_tracker *skewed_host(const qkt_server *srv, skewed *clk)
{
    static const qk_service_def d = {.name = "skew", .windows = {{QK_MINUTE, 100}}};
    char url[64];
    redis_url(url, sizeof url, srv);
    qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    o.clock = skewed_clock;
    o.clock_ctx = clk;
    return store_tracker(&o);
}

static uint64_t field_of(int port, int64_t start, const char *f, const char *host)
{
    char key[96];
    snprintf(key, sizeof key, "qk:{skew}:m:%lld", (long long)start);
    return host ? host_field(port, key, f, host) : hget_u64(port, key, f);
}

Test(store_clock, two_seconds_ahead_or_behind_at_a_minute_boundary)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    cr_assert_lt(llabs(server_ms(srv.port) - real_ms()), 100, "the server's clock is this one");

    /* Ahead: the server 1.7 to 1.5 s before a boundary B, the host 0.3 to 0.5 s past it. */
    skewed ahead = {2000};
    qk_tracker *a = skewed_host(&srv, &ahead);
    char ha[40];
    status_buf sb;
    snprintf(ha, sizeof ha, "%s", status_of(a, &sb)->host_id);
    wait_into_minute(srv.port, QKT_MIN - 1700, QKT_MIN - 1500);
    const int64_t B = (server_ms(srv.port) / QKT_MIN + 1) * QKT_MIN;
    while (server_ms(srv.port) < B - 200) {
        const int rc = qk_try_consume(a, 0, 1, 0, NULL);
        cr_assert(rc == QK_ELIMIT || rc == QK_OK, "%s: %s", qk_err_name(rc), qk_errmsg());
        cr_assert_eq(field_of(srv.port, B, "G", NULL), 0,
                     "a grant for the next minute before the server's time reached it");
        sleep_ms(100);
    }
    const int64_t offset = status_of(a, &sb)->clock_offset_ms;
    cr_assert(offset <= -1800 && offset >= -2200, "offset %lld", (long long)offset);
    cr_assert_eq(field_of(srv.port, B, "G", NULL), 0);
    cr_assert_gt(field_of(srv.port, B, "t", ha), 0, "the host ahead never asked for B");

    /* Behind: the server 0.3 to 0.5 s past B, the host 1.7 to 1.5 s before it. */
    skewed behind = {-2000};
    qk_tracker *b = skewed_host(&srv, &behind);
    char hb[40];
    snprintf(hb, sizeof hb, "%s", status_of(b, &sb)->host_id);
    wait_into_minute(srv.port, 300, 500);
    cr_assert_eq(server_ms(srv.port) / QKT_MIN * QKT_MIN, B, "missed the boundary");
    int ok_b = 0;
    for (int i = 0; i < 2; i++) {
        const int rc = qk_try_consume(b, 0, 1, 0, NULL);
        cr_assert(rc == QK_ELIMIT || rc == QK_OK, "%s: %s", qk_err_name(rc), qk_errmsg());
        ok_b += rc == QK_OK;
    }
    cr_assert_eq(field_of(srv.port, B - QKT_MIN, "g", hb), 0,
                 "a grant for the minute the server had left");
    cr_assert_eq(field_of(srv.port, B - QKT_MIN, "u", hb), 0);
    cr_assert_geq(ok_b, 1, "the host behind never got going in the server's minute");
    const int64_t offset_b = status_of(b, &sb)->clock_offset_ms;
    cr_assert(offset_b >= 1800 && offset_b <= 2200, "offset %lld", (long long)offset_b);

    /* Past B by the server's clock, the host ahead gets its grants in B. */
    cr_assert_eq(qk_try_consume(a, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(a), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(b), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(field_of(srv.port, B, "u", hb), (uint64_t)ok_b);
    cr_assert_geq(field_of(srv.port, B, "u", ha), 1);
    cr_assert_eq(field_of(srv.port, B - QKT_MIN, "g", ha), 0);
    qk_tracker_free(a);
    qk_tracker_free(b);
}
