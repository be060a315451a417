/* A request that reaches Redis after its caller gave up on it must not count twice.
 *
 * The interleaving: the host sends its counts, redis-server is stopped (SIGSTOP) with the request
 * in its socket, the call times out and the host keeps the counts as unsynced; redis resumes and
 * applies the late request; the host syncs again. With cumulative values (the protocol) the
 * second sync changes nothing; a host that sent deltas (used minus what was acknowledged) would
 * send the same delta again and the store would count it twice. tests/store/CMakeLists.txt
 * builds this file a second time against such a library (its redis:// served by
 * tests/mutation/store_deltas.c) and requires it to FAIL there. */
#include <unistd.h>

#include "store_test.h"

TestSuite(store_sigstop, .fini = qkt_servers_stop_all, .timeout = 60);

static void late_requests(const char *path)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    char url[64];
    redis_url(url, sizeof url, &srv);
    const qk_service_def d = one_window("late", QK_FOREVER, 100000, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, FAULT_TIMEOUT_MS, path);
    qk_tracker *t = store_tracker(&o);

    for (int i = 0; i < 10; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "consume %d: %s", i, qk_errmsg());
    /* Everything acknowledged, and a connection with the script loaded waits in the pool, so the
     * next sync's EVALSHA goes straight into the server's socket. */
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    status_buf sb;
    char host[40];
    snprintf(host, sizeof host, "%s", status_of(t, &sb)->host_id);
    char key[160];
    window_key(key, sizeof key, srv.port, "late", 'f');
    cr_assert_eq(hget_u64(srv.port, key, "U"), 10);

    cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
    cr_assert_eq(qk_record(t, 0, 7, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_EUNAVAIL, "a sync to a stopped server: %s", qk_errmsg());
    /* Two more failures make the store degraded; then consumes past the (released) lease take
     * the safe share of what was left, without waiting. */
    for (int i = 0; i < 2; i++)
        cr_assert_eq(qk_store_sync(t), QK_EUNAVAIL);
    status_buf deg;
    cr_assert_eq(status_of(t, &deg)->degraded, 1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "outage consume %d: %s", i,
                     qk_errmsg());
    sleep_ms(2 * FAULT_TIMEOUT_MS);
    cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);

    /* The late requests run now: wait until the store has the record, so the next sync surely
     * comes after them. */
    const int64_t until = qkt_mono_ms() + 10000;
    while (host_field(srv.port, key, "u", host) < 17 && qkt_mono_ms() < until)
        sleep_ms(5);
    cr_assert_geq(host_field(srv.port, key, "u", host), 17, "the late request never landed");

    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(host_field(srv.port, key, "u", host), 20, "u:%s counted a late request twice",
                 host);
    cr_assert_eq(hget_u64(srv.port, key, "U"), 20, "U counted a late request twice");
    const qk_store_info *in = status_of(t, &sb);
    cr_assert_eq(in->services[0].windows[0].unsynced, 0);
    cr_assert_eq(in->services[0].windows[0].fleet_used, 20);
    cr_assert_eq(used_of(t, 0, 0), 20);
    qk_tracker_free(t);
    cr_assert_eq(hget_u64(srv.port, key, "U"), 20);
    cr_assert_eq(hget_u64(srv.port, key, "G"), 20, "the lease was not all given back");
}

Test(store_sigstop, late_requests_count_once)
{
    late_requests(NULL);
}

Test(store_sigstop, late_requests_count_once_state_file)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-sigstop");
    late_requests(qkt_path(path, dir, "host.qk"));
    qkt_tmpdir_remove(dir);
}
