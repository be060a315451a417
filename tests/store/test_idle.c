/* An idle lease goes back (docs/store.md, "Sizing"): what a host holds and has not used for 30 s
 * by its clock is given back to the store, where other hosts can have it; a lease still in use,
 * however old, is kept. The host's clock is injected and jumps, so the test waits for the sync
 * thread's passes (about one a second), not for 30 s. */
#include <stdatomic.h>

#include "store_test.h"

TestSuite(store_idle, .fini = qkt_servers_stop_all, .timeout = 60);

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The host's clock: the real one moved forward by jump_ms. */
static int64_t jumping_clock(void *ctx)
{
    return real_ms() + atomic_load((_Atomic int64_t *)ctx);
}

static uint64_t held_here(qk_tracker *t)
{
    status_buf b;
    return status_of(t, &b)->services[0].windows[0].held;
}

/* Consumes one call at a time until the host holds a lease of at least `min` unused calls (its
 * grants follow its rate), for at most 5 s. */
static void build_lease(qk_tracker *t, uint64_t min)
{
    const int64_t until = real_ms() + 5000;
    while (held_here(t) < min && real_ms() < until) {
        for (int i = 0; i < 100; i++)
            cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
        sleep_ms(5);
    }
    cr_assert_geq(held_here(t), min, "no lease of %lu built up", (unsigned long)min);
}

/* Catches: a lease never given back (stranded until the window ends), one given back while the
 * host still uses it (idle measured from the first use or the last sync, not the last use), and a
 * give-back the store does not see (the host's x in the key). */
Test(store_idle, a_lease_unused_for_30_s_goes_back_and_one_in_use_stays)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    char url[64];
    redis_url(url, sizeof url, &srv);
    const qk_service_def d = one_window("idle", QK_FOREVER, 1000000, QK_OUTAGE_SAFE, 0);
    qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    _Atomic int64_t jump = 0;
    o.clock = jumping_clock;
    o.clock_ctx = &jump;
    qk_tracker *t = store_tracker(&o);
    status_buf b;
    const char *host = status_of(t, &b)->host_id;
    char key[96];

    build_lease(t, 10);
    sleep_ms(1500); /* the thread has looked since the last use */

    /* In use: 20 s pass, one call, 20 s more. 40 s since the lease came, 20 since its last use. */
    atomic_store(&jump, 20000);
    sleep_ms(1500);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    sleep_ms(1500);
    atomic_store(&jump, 40000);
    sleep_ms(2500);
    const uint64_t held = held_here(t);
    cr_assert_gt(held, 0, "a lease last used 20 s ago was given back");

    /* Idle: 31 s more with no use. */
    atomic_store(&jump, 71000);
    const int64_t until = real_ms() + 5000;
    while (held_here(t) > 0 && real_ms() < until)
        sleep_ms(50);
    cr_assert_eq(held_here(t), 0, "a lease unused for 31 s is still held");
    window_key(key, sizeof key, srv.port, "idle", 'f');
    uint64_t store_held = 0;
    for (int i = 0; i < 100; i++) { /* the give-back's answer may still be on its way */
        store_held = host_held(srv.port, key, host);
        if (store_held == host_field(srv.port, key, "u", host))
            break;
        sleep_ms(50);
    }
    cr_assert_eq(store_held, host_field(srv.port, key, "u", host),
                 "the store still counts %lu calls held by this host, which used %lu",
                 (unsigned long)store_held, (unsigned long)host_field(srv.port, key, "u", host));

    /* The next use asks again. */
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
}
