/* The store's faults, each against a real redis-server: killed and restarted, its scripts
 * flushed, a key of the wrong type, a wrong password, a host killed mid-sync, the degraded/up
 * hysteresis and its events, each outage policy's bound, opening while the server is out, and
 * use during an outage reaching the store once it is back. Every count is exact. */
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "store_test.h"

TestSuite(store_faults, .fini = qkt_servers_stop_all, .timeout = 90);

#define FOREVER_KEY(svc) "qk:{" svc "}:f:-9223372036854775808"

static qk_tracker *open_on(qkt_server *srv, const qk_service_def *defs, size_t n,
                           int64_t timeout_ms, const char *path)
{
    char url[64];
    redis_url(url, sizeof url, srv);
    const qk_options o = store_options(defs, n, url, timeout_ms, path);
    return store_tracker(&o);
}

static void consume_ok(qk_tracker *t, qk_service s, int times)
{
    for (int i = 0; i < times; i++)
        cr_assert_eq(qk_try_consume(t, s, 1, 0, NULL), QK_OK, "consume %d: %s", i, qk_errmsg());
}

static const char *host_of(qk_tracker *t, char out[40])
{
    status_buf sb;
    snprintf(out, 40, "%s", status_of(t, &sb)->host_id);
    return out;
}

/* ---- the server killed, restarted with its append-only file ---- */

/* Counts survive a crash of redis (appendfsync always); use during the crash stays with the
 * hosts, which re-assert it once the server is back: U ends as every call made. */
Test(store_faults, server_killed_and_restarted_counts_survive_hosts_reassert)
{
    qkt_server srv;
    start_redis(&srv, "always");
    const qk_service_def d = one_window("crash", QK_FOREVER, 1000, QK_OUTAGE_SAFE, 0);
    qk_tracker *a = open_on(&srv, &d, 1, FAULT_TIMEOUT_MS, NULL);
    qk_tracker *b = open_on(&srv, &d, 1, FAULT_TIMEOUT_MS, NULL);
    char ha[40], hb[40];
    host_of(a, ha);
    host_of(b, hb);
    consume_ok(a, 0, 20);
    cr_assert_eq(qk_record(b, 0, 5, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(a), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(b), QK_OK, "%s", qk_errmsg());
    const char *key = FOREVER_KEY("crash");
    cr_assert_eq(hget_u64(srv.port, key, "U"), 25);

    cr_assert_eq(qkt_server_kill(&srv), 0, "%s", srv.error);
    for (int i = 0; i < 3; i++) /* refused: degraded after the third */
        cr_assert_eq(qk_store_sync(a), QK_EUNAVAIL);
    consume_ok(a, 0, 3); /* past the released lease: the safe share of what was left */
    cr_assert_eq(qk_record(b, 0, 4, NULL), QK_OK);
    cr_assert_eq(qkt_server_restart(&srv), 0, "%s", srv.error);

    /* What the store acknowledged before the crash is all there. (G also holds the leases the
     * sync threads took since the hosts' last sync: it still adds up.) */
    cr_assert_eq(hget_u64(srv.port, key, "U"), 25, "counts lost in the crash");
    cr_assert_eq(hget_u64(srv.port, key, "G"),
                 host_held(srv.port, key, ha) + host_held(srv.port, key, hb));
    cr_assert_geq(hget_u64(srv.port, key, "G"), 25);
    cr_assert_eq(host_field(srv.port, key, "u", ha), 20);
    cr_assert_eq(host_field(srv.port, key, "u", hb), 5);

    /* A connection that was idle through the crash finds out on its first use: at most one more
     * failure each before the hosts get through. */
    int rc_a = QK_EUNAVAIL, rc_b = QK_EUNAVAIL;
    for (int i = 0; i < 3 && (rc_a != QK_OK || rc_b != QK_OK); i++) {
        if (rc_a != QK_OK)
            rc_a = qk_store_sync(a);
        if (rc_b != QK_OK)
            rc_b = qk_store_sync(b);
    }
    cr_assert_eq(rc_a, QK_OK, "host a never got through: %s", qk_errmsg());
    cr_assert_eq(rc_b, QK_OK, "host b never got through: %s", qk_errmsg());
    cr_assert_eq(host_field(srv.port, key, "u", ha), 23);
    cr_assert_eq(host_field(srv.port, key, "u", hb), 9);
    cr_assert_eq(hget_u64(srv.port, key, "U"), 32);
    qk_tracker_free(a);
    qk_tracker_free(b);
    cr_assert_eq(hget_u64(srv.port, key, "U"), 32);
    cr_assert_eq(hget_u64(srv.port, key, "G"), 32);
}

/* ---- SCRIPT FLUSH ---- */

/* The script vanishes from the server: the next call gets NOSCRIPT, loads it again and goes on,
 * and no failure is counted. */
Test(store_faults, script_flush_reloads_without_a_failure)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    const qk_service_def d = one_window("flush", QK_FOREVER, 1000, QK_OUTAGE_CLOSED, 0);
    qk_tracker *t = open_on(&srv, &d, 1, CALM_TIMEOUT_MS, NULL);
    consume_ok(t, 0, 5);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    rcmd_ok(srv.port, "SCRIPT FLUSH");
    consume_ok(t, 0, 5); /* the lease went back at the sync: this one asks the store */
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    status_buf sb;
    const qk_store_info *in = status_of(t, &sb);
    cr_assert_eq(in->failures, 0, "a reload counted as a failure: %s", in->last_error);
    cr_assert_eq(hget_u64(srv.port, FOREVER_KEY("flush"), "U"), 10);
    qk_tracker_free(t);
}

/* ---- a key of the wrong type ---- */

/* One service's key holds a string. Its syncs fail with an error naming the key; the other
 * service's counts still reach the store, in the same qk_store_sync; and its failures do not
 * make the store count as unreachable, which would refuse the other service's consumes past
 * its lease (it is QK_OUTAGE_CLOSED). */
Test(store_faults, wrong_type_key_harms_nothing_else)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    const qk_service_def d[2] = {one_window("broken", QK_FOREVER, 1000, QK_OUTAGE_SAFE, 0),
                                 one_window("fine", QK_FOREVER, 1000, QK_OUTAGE_CLOSED, 0)};
    rcmd_ok(srv.port, "SET %s oops", FOREVER_KEY("broken"));
    qk_tracker *t = open_on(&srv, d, 2, CALM_TIMEOUT_MS, NULL);

    /* Consumes on the broken service: each asks the store, which refuses; never synced, so the
     * safe policy allows nothing. */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_EUNAVAIL);
    status_buf sb;
    const qk_store_info *in = status_of(t, &sb);
    cr_assert_not_null(strstr(in->last_error, "WRONGTYPE"), "last_error: '%s'", in->last_error);
    cr_assert_not_null(strstr(in->last_error, FOREVER_KEY("broken")), "last_error: '%s'",
                       in->last_error);
    cr_assert_eq(in->degraded, 0, "a key of the wrong type made the store 'unreachable'");
    consume_ok(t, 1, 3); /* closed past its lease, so each of these needed the store */

    cr_assert_eq(qk_record(t, 0, 2, NULL), QK_OK, "a record never fails for the store");
    cr_assert_eq(qk_record(t, 1, 4, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(t), QK_EIO);
    assert_errmsg_has("WRONGTYPE");
    assert_errmsg_has(FOREVER_KEY("broken"));
    cr_assert_eq(hget_u64(srv.port, FOREVER_KEY("fine"), "U"), 7,
                 "the other service's counts did not reach the store");
    redisReply *r = rcmd(srv.port, "GET %s", FOREVER_KEY("broken"));
    cr_assert_str_eq(r->str, "oops", "the broken key was changed");
    freeReplyObject(r);
    in = status_of(t, &sb);
    cr_assert_eq(in->degraded, 0);
    cr_assert_eq(in->services[0].windows[0].unsynced, 2, "the broken service keeps its counts");
    cr_assert_eq(in->services[1].windows[0].unsynced, 0);
    qk_tracker_free(t);
}

/* ---- a wrong password ---- */

static void assert_no_secret(const char *text, const char *secret)
{
    cr_assert_null(strstr(text, secret), "the password is in '%s'", text);
}

static void wrong_password(int from_env)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    rcmd_ok(srv.port, "CONFIG SET requirepass right-horse-battery");
    const char *secret = "wr0ng-s3cret-pw";
    char url[128];
    if (from_env) {
        setenv("QK_REDIS_PASSWORD", secret, 1); /* this test's own process */
        snprintf(url, sizeof url, "redis://127.0.0.1:%d", srv.port);
    } else {
        snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", secret, srv.port);
    }
    const qk_service_def d = one_window("auth", QK_FOREVER, 1000, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(t), QK_EIO, "%s", qk_errmsg());
    assert_errmsg_has("AUTH");
    assert_no_secret(qk_errmsg(), secret);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_EUNAVAIL);
    assert_no_secret(qk_errmsg(), secret);
    /* qk_store_init (qkctl store init) is how an operator checks a Redis store: it says so. */
    int created = 7;
    cr_assert_eq(qk_store_init(&created, url, CALM_TIMEOUT_MS), QK_EIO, "%s", qk_errmsg());
    cr_assert_eq(created, 7);
    assert_errmsg_has("AUTH");
    assert_no_secret(qk_errmsg(), secret);
    status_buf sb;
    const qk_store_info *in = status_of(t, &sb);
    cr_assert_not_null(strstr(in->last_error, "AUTH"), "last_error: '%s'", in->last_error);
    assert_no_secret(in->last_error, secret);
    qk_tracker_free(t);
    assert_no_secret(qk_errmsg(), secret);

    /* The right one gets through: it was the password. */
    if (from_env)
        setenv("QK_REDIS_PASSWORD", "right-horse-battery", 1);
    else
        snprintf(url, sizeof url, "redis://:right-horse-battery@127.0.0.1:%d", srv.port);
    const qk_options ok = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    created = 7;
    cr_assert_eq(qk_store_init(&created, url, CALM_TIMEOUT_MS), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(created, 0, "Redis has nothing to create");
    t = store_tracker(&ok);
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
}

Test(store_faults, wrong_password_in_url_clear_error_no_secret)
{
    wrong_password(0);
}

Test(store_faults, wrong_password_from_env_clear_error_no_secret)
{
    wrong_password(1);
}

/* ---- a host killed mid-sync, restarted on its state file ---- */

typedef struct {
    _Atomic int phase; /* 1: synced, waiting; 2: go on; 3: inside the last sync */
    char host[40];
} killed_host;

static killed_host *KH;
static const char *KH_URL, *KH_PATH;

static int killed_host_main(void *arg)
{
    (void)arg;
    const qk_service_def d = one_window("killed", QK_FOREVER, 1000, QK_OUTAGE_SAFE, 0);
    /* A long timeout: the parent kills it while it waits. */
    const qk_options o = store_options(&d, 1, KH_URL, 30000, KH_PATH);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 10;
    for (int i = 0; i < 30; i++)
        if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
            return 11;
    if (qk_store_sync(t) != QK_OK)
        return 12;
    qk_store_info in = {.version = QK_STORE_INFO_VERSION};
    qk_store_status(t, &in);
    memcpy(KH->host, in.host_id, sizeof KH->host);
    /* Quiet before the parent pauses the server: a sync of the background thread (woken by the
     * consumes) that the server had read but not answered when stopped would hold the service's
     * sync lock for the whole timeout, and qk_store_sync below would send nothing (seen once in
     * six runs under load). The count of syncs standing still for 300 ms: that thread is done. */
    for (uint64_t last = UINT64_MAX, still = 0; still < 30; sleep_ms(10)) {
        if (qk_store_status(t, &in) != QK_OK)
            return 15;
        still = in.syncs == last ? still + 1 : 0;
        last = in.syncs;
    }
    atomic_store(&KH->phase, 1);
    while (atomic_load(&KH->phase) != 2)
        sleep_ms(1);
    if (qk_record(t, 0, 12, NULL) != QK_OK)
        return 13;
    atomic_store(&KH->phase, 3);
    qk_store_sync(t); /* the server is stopped: killed in here */
    return 14;
}

/* The interleaving: the host's sync request is in the server's socket when the host dies; the
 * server applies it later; the host restarts on its file and sends its counts again. Cumulative
 * values: the second sending changes nothing, and the restart loses nothing. */
Test(store_faults, host_killed_mid_sync_restarts_without_double_count)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    char dir[PATH_MAX], path[PATH_MAX], url[64];
    qkt_tmpdir_make(dir, "qk-killed");
    redis_url(url, sizeof url, &srv);
    KH = qkt_shared_mem(sizeof *KH);
    KH_URL = url;
    KH_PATH = qkt_path(path, dir, "host.qk");
    const pid_t pid = qkt_fork_run(killed_host_main, NULL, 60);
    while (atomic_load(&KH->phase) != 1)
        sleep_ms(1);
    const char *key = FOREVER_KEY("killed");
    cr_assert_eq(host_field(srv.port, key, "u", KH->host), 30);
    /* Paused while the host is quiet: a sync of its background thread caught by the pause
     * (planned before the record, u = 30) would hold the service's sync lock and keep
     * qk_store_sync from sending. Nothing is left for that thread to do once it has run. */
    long unread = -1;
    for (int tries = 0; unread != 0; tries++) {
        cr_assert_lt(tries, 50, "the host never went quiet");
        if (tries > 0) {
            cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
            sleep_ms(100);
        }
        cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
        sleep_ms(100);
        unread = qkt_server_unread_bytes(&srv);
        cr_assert_geq(unread, 0, "cannot read /proc/net/tcp");
    }
    atomic_store(&KH->phase, 2);
    while (atomic_load(&KH->phase) != 3)
        sleep_ms(1);
    /* Inside qk_store_sync: killed once its request (every request after the record holds
     * u = 42) waits in the stopped server's socket, however slow the machine. */
    const int64_t sent_by = qkt_mono_ms() + 10000;
    while (qkt_server_unread_bytes(&srv) == 0 && qkt_mono_ms() < sent_by)
        sleep_ms(1);
    cr_assert_gt(qkt_server_unread_bytes(&srv), 0, "the host sent nothing in 10 s");
    kill(pid, SIGKILL);
    cr_assert_eq(qkt_wait_child(pid), 1000 + SIGKILL);
    cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
    const int64_t until = qkt_mono_ms() + 10000;
    while (host_field(srv.port, key, "u", KH->host) != 42 && qkt_mono_ms() < until)
        sleep_ms(5);
    cr_assert_eq(host_field(srv.port, key, "u", KH->host), 42,
                 "the dead host's request never "
                 "landed");

    const qk_service_def d = one_window("killed", QK_FOREVER, 1000, QK_OUTAGE_SAFE, 0);
    qk_tracker *t = open_on(&srv, &d, 1, CALM_TIMEOUT_MS, path);
    char host[40];
    cr_assert_str_eq(host_of(t, host), KH->host, "a restart on the file is the same host");
    cr_assert_eq(used_of(t, 0, 0), 42);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(host_field(srv.port, key, "u", host), 42, "counted twice");
    cr_assert_eq(hget_u64(srv.port, key, "U"), 42, "counted twice");
    status_buf sb;
    cr_assert_eq(status_of(t, &sb)->services[0].windows[0].unsynced, 0);
    consume_ok(t, 0, 1);
    qk_tracker_free(t);
    cr_assert_eq(hget_u64(srv.port, key, "U"), 43);
    cr_assert_eq(hget_u64(srv.port, key, "G"), 43);
    qkt_tmpdir_remove(dir);
}

/* ---- the 3/5 hysteresis, and its events ---- */

typedef struct {
    _Atomic int degraded, recovered, other;
    _Atomic int order; /* 1 after a degraded, 2 after a recovered that followed it */
} store_events;

static void count_events(const qk_event *ev, void *payload)
{
    store_events *e = payload;
    if (ev->kind == QK_EVENT_STORE_DEGRADED && ev->name == NULL) {
        atomic_fetch_add(&e->degraded, 1);
        atomic_store(&e->order, 1);
    } else if (ev->kind == QK_EVENT_STORE_RECOVERED && ev->name == NULL) {
        atomic_fetch_add(&e->recovered, 1);
        if (atomic_load(&e->order) == 1)
            atomic_store(&e->order, 2);
    } else if (ev->kind != QK_EVENT_LEVEL) {
        atomic_fetch_add(&e->other, 1);
    }
}

typedef struct {
    qk_tracker *t;
    qkt_server *srv;
    int paused;
    uint64_t calls, fails;
} health_run;

/* One qk_store_sync, failing (the server stopped) or not, and the exact state after it. The
 * service is never used, so the sync thread never syncs (it syncs only use, a low lease or an
 * idle one): `syncs` counting exactly the calls made here proves it. */
static void step(health_run *h, int ok, uint32_t fails, uint32_t oks, int degraded)
{
    if (ok == h->paused) {
        const int rc = ok ? qkt_server_resume(h->srv) : qkt_server_pause(h->srv);
        cr_assert_eq(rc, 0, "%s", h->srv->error);
        h->paused = !ok;
    }
    const int rc = qk_store_sync(h->t);
    cr_assert_eq(rc, ok ? QK_OK : QK_EUNAVAIL, "call %llu: %s", (unsigned long long)h->calls + 1,
                 qk_errmsg());
    h->calls++;
    h->fails += !ok;
    status_buf sb;
    const qk_store_info *in = status_of(h->t, &sb);
    cr_assert_eq(in->syncs, h->calls, "call %llu: %llu syncs", (unsigned long long)h->calls,
                 (unsigned long long)in->syncs);
    cr_assert_eq(in->failures, h->fails);
    cr_assert_eq(in->consecutive_failures, fails, "call %llu: %u consecutive failures",
                 (unsigned long long)h->calls, in->consecutive_failures);
    cr_assert_eq(in->consecutive_successes, oks, "call %llu: %u consecutive successes",
                 (unsigned long long)h->calls, in->consecutive_successes);
    cr_assert_eq(in->degraded, degraded, "call %llu: degraded %d", (unsigned long long)h->calls,
                 in->degraded);
}

static void hysteresis(const char *path)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    char url[64];
    redis_url(url, sizeof url, &srv);
    const qk_service_def d = one_window("health", QK_FOREVER, 1000, QK_OUTAGE_SAFE, 0);
    store_events ev = {0};
    qk_options o = store_options(&d, 1, url, FAULT_TIMEOUT_MS, path);
    o.on_event = count_events;
    o.payload = &ev;
    qk_tracker *t = store_tracker(&o);
    health_run h = {t, &srv, 0, 0, 0};
    step(&h, 0, 1, 0, 0);
    step(&h, 0, 2, 0, 0);
    step(&h, 1, 0, 1, 0); /* a success between: the failures were not consecutive */
    step(&h, 0, 1, 0, 0);
    step(&h, 0, 2, 0, 0);
    cr_assert_eq(ev.degraded, 0);
    step(&h, 0, 3, 0, 1); /* the third in a row */
    cr_assert_eq(ev.degraded, 1, "DEGRADED delivered %d times", ev.degraded);
    step(&h, 0, 4, 0, 1);
    for (uint32_t i = 1; i <= 4; i++)
        step(&h, 1, 0, i, 1);
    step(&h, 0, 1, 0, 1); /* a failure between: the successes start over */
    for (uint32_t i = 1; i <= 4; i++)
        step(&h, 1, 0, i, 1);
    cr_assert_eq(ev.recovered, 0);
    step(&h, 1, 0, 5, 0); /* the fifth in a row */
    step(&h, 1, 0, 6, 0);
    qk_tracker_free(t);
    cr_assert_eq(ev.degraded, 1, "DEGRADED delivered %d times", ev.degraded);
    cr_assert_eq(ev.recovered, 1, "RECOVERED delivered %d times", ev.recovered);
    cr_assert_eq(ev.order, 2, "RECOVERED came before DEGRADED");
    cr_assert_eq(ev.other, 0);
}

Test(store_faults, hysteresis_three_failures_five_successes_events_once)
{
    hysteresis(NULL);
}

Test(store_faults, hysteresis_state_file)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-health");
    hysteresis(qkt_path(path, dir, "host.qk"));
    qkt_tmpdir_remove(dir);
}

/* ---- each outage policy's bound ---- */

/* Host a holds a lease when the server stops; host b has synced and given its lease back, and
 * stays open (an active host: a host that left would have been retired by its last word).
 * While the server is out, a consumes one call at a time until refused:
 * - safe: its lease, then exactly 25 % of what the fleet had left at a's last sync (L - G),
 *   shared by the 2 active hosts; then QK_EUNAVAIL; a host that never synced gets nothing;
 * - closed: its lease, then QK_EUNAVAIL;
 * - open: up to the local limit (L - U at the last sync), then QK_ELIMIT.
 * Everything a used reaches the store once it is back. */
static void outage_bound(qk_outage policy)
{
    enum { L = 1000 };
    qkt_server srv;
    start_redis(&srv, NULL);
    /* "probe" is never used but to make the store degraded without touching out's lease. */
    const qk_service_def d[2] = {one_window("out", QK_FOREVER, L, policy, 10),
                                 one_window("probe", QK_FOREVER, L, QK_OUTAGE_CLOSED, 0)};
    const char *key = FOREVER_KEY("out");
    qk_tracker *b = open_on(&srv, d, 1, CALM_TIMEOUT_MS, NULL);
    consume_ok(b, 0, 3);
    cr_assert_eq(qk_store_sync(b), QK_OK, "%s", qk_errmsg()); /* gives back, owes nothing */
    qk_tracker *a = open_on(&srv, d, 2, FAULT_TIMEOUT_MS, NULL);
    consume_ok(a, 0, 5);

    /* Stop the server at a moment when a's last answer is what the store holds: no sync between
     * reading the store and stopping it (the sync thread may refill a's lease at any time). */
    uint64_t G = 0, U = 0, held = 0, hosts = 0;
    for (int attempt = 0;; attempt++) {
        cr_assert_lt(attempt, 50, "the host never settled");
        status_buf s0, s1;
        const qk_store_info *in0 = status_of(a, &s0);
        G = hget_u64(srv.port, key, "G");
        U = hget_u64(srv.port, key, "U");
        hosts = hosts_in_key(srv.port, key);
        cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
        sleep_ms(FAULT_TIMEOUT_MS + 50); /* a request in flight has failed by now */
        const qk_store_info *in1 = status_of(a, &s1);
        held = in1->services[0].windows[0].held;
        if (in1->syncs == in0->syncs && in1->services[0].windows[0].unsynced == 0 && held > 0)
            break;
        cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
        if (held == 0)
            consume_ok(a, 0, 1);
        sleep_ms(100);
    }
    cr_assert_eq(hosts, 2);
    const uint64_t allowance = (L - G) * 25 / 100 / hosts;
    /* The policies are for a degraded store: three failures in a row, on the other service. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(qk_try_consume(a, 1, 1, 0, NULL), QK_EUNAVAIL);
    status_buf deg;
    cr_assert_eq(status_of(a, &deg)->degraded, 1);

    uint64_t got = 0;
    int rc;
    while ((rc = qk_try_consume(a, 0, 1, 0, NULL)) == QK_OK)
        got++;
    switch (policy) {
    case QK_OUTAGE_SAFE:
        cr_assert_eq(rc, QK_EUNAVAIL, "%s", qk_err_name(rc));
        cr_assert_eq(got, held + allowance, "got %llu: lease %llu, allowance %llu",
                     (unsigned long long)got, (unsigned long long)held,
                     (unsigned long long)allowance);
        break;
    case QK_OUTAGE_CLOSED:
        cr_assert_eq(rc, QK_EUNAVAIL, "%s", qk_err_name(rc));
        cr_assert_eq(got, held, "got %llu past a lease of %llu", (unsigned long long)got,
                     (unsigned long long)held);
        break;
    case QK_OUTAGE_OPEN:
        cr_assert_eq(rc, QK_ELIMIT, "%s", qk_err_name(rc));
        cr_assert_eq(got, L - U, "got %llu, the local limit left %llu", (unsigned long long)got,
                     (unsigned long long)(L - U));
        break;
    }
    for (int i = 0; i < 3; i++) /* refusals stay refusals */
        cr_assert_eq(qk_try_consume(a, 0, 1, 0, NULL), rc);
    status_buf sb;
    cr_assert_eq(status_of(a, &sb)->degraded, 1);
    if (policy == QK_OUTAGE_SAFE) {
        qk_tracker *c = open_on(&srv, d, 1, FAULT_TIMEOUT_MS, NULL);
        cr_assert_eq(qk_try_consume(c, 0, 1, 0, NULL), QK_EUNAVAIL,
                     "a host that never synced got a call");
        qk_tracker_free(c);
    }
    cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
    cr_assert_eq(qk_store_sync(a), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(hget_u64(srv.port, key, "U"), U + got, "use during the outage was lost");
    qk_tracker_free(a);
    qk_tracker_free(b);
}

Test(store_faults, outage_safe_bound)
{
    outage_bound(QK_OUTAGE_SAFE);
}

Test(store_faults, outage_closed_bound)
{
    outage_bound(QK_OUTAGE_CLOSED);
}

Test(store_faults, outage_open_bound)
{
    outage_bound(QK_OUTAGE_OPEN);
}

/* ---- use during an outage reaches the store, an overdraft is reported ---- */

Test(store_faults, outage_use_reaches_store_at_first_sync_overdraft_reported)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    const qk_service_def d = one_window("later", QK_FOREVER, 100, QK_OUTAGE_SAFE, 0);
    qk_tracker *t = open_on(&srv, &d, 1, FAULT_TIMEOUT_MS, NULL);
    consume_ok(t, 0, 10);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
    for (int i = 0; i < 3; i++) /* degraded after the third */
        cr_assert_eq(qk_store_sync(t), QK_EUNAVAIL);
    uint64_t got = 0;
    while (qk_try_consume(t, 0, 1, 0, NULL) == QK_OK)
        got++;
    cr_assert_eq(got, (100 - 10) * 25 / 100, "one active host: a quarter of what was left");
    cr_assert_eq(qk_record(t, 0, 150, NULL), QK_OK, "a record is a fact");
    status_buf sb;
    const qk_store_info *in = status_of(t, &sb);
    cr_assert_eq(in->services[0].windows[0].unsynced, got + 150);
    const uint64_t oks = in->syncs - in->failures;
    cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    const uint64_t total = 10 + got + 150;
    in = status_of(t, &sb);
    cr_log_info("successful syncs since the outage began: %llu",
                (unsigned long long)(in->syncs - in->failures - oks));
    cr_assert_eq(hget_u64(srv.port, FOREVER_KEY("later"), "U"), total);
    cr_assert_eq(hget_u64(srv.port, FOREVER_KEY("later"), "G"), total);
    cr_assert_eq(in->services[0].windows[0].unsynced, 0);
    cr_assert_eq(in->services[0].windows[0].fleet_used, total);
    cr_assert_eq(in->services[0].windows[0].overdraft, total - 100, "overdraft %llu",
                 (unsigned long long)in->services[0].windows[0].overdraft);
    cr_assert_eq(used_of(t, 0, 0), total);
    /* And again: nothing doubles. */
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(hget_u64(srv.port, FOREVER_KEY("later"), "U"), total);
    qk_tracker_free(t);
}

/* ---- opening while the server is out; malformed URLs ---- */

/* A service restarting while Redis is down must come up (no crash loop): open, count, free,
 * again and again, each bounded by the timeout; the counts reach the store once it is back. */
Test(store_faults, opens_while_unreachable)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    cr_assert_eq(qkt_server_stop_keep(&srv), 0, "%s", srv.error); /* its port: refused */
    char dir[PATH_MAX], path[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-unreach");
    qkt_path(path, dir, "host.qk");
    const qk_service_def d = one_window("down", QK_FOREVER, 1000, QK_OUTAGE_SAFE, 0);
    for (int i = 0; i < 10; i++) {
        qk_tracker *t = open_on(&srv, &d, 1, FAULT_TIMEOUT_MS, path);
        cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_EUNAVAIL, "never synced: nothing");
        qk_tracker_free(t);
    }
    /* A stopped server (accepts, never answers): opening does not wait on it, freeing waits one
     * timeout at most per service. */
    cr_assert_eq(qkt_server_restart(&srv), 0, "%s", srv.error);
    cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
    const int64_t t0 = qkt_mono_ms();
    qk_tracker *t = open_on(&srv, &d, 1, FAULT_TIMEOUT_MS, path);
    cr_assert_lt(qkt_mono_ms() - t0, 1000, "opening waited on the store");
    cr_assert_eq(qk_record(t, 0, 5, NULL), QK_OK);
    qk_tracker_free(t);
    cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
    t = open_on(&srv, &d, 1, CALM_TIMEOUT_MS, path);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(hget_u64(srv.port, FOREVER_KEY("down"), "U"), 15);
    qk_tracker_free(t);
    qkt_tmpdir_remove(dir);
}

Test(store_faults, malformed_url_is_einval_at_open)
{
    static const char *bad[] = {"redis://",        "redis://:pw-XYZ@", "redis://h:0",
                                "redis://h:70000", "redis://h/db",     "redis+unix://host/sock",
                                "redis+unix://",   "redis//h",         "nosuch://h"};
    const qk_service_def d = one_window("url", QK_FOREVER, 10, QK_OUTAGE_SAFE, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const qk_options o = store_options(&d, 1, bad[i], 0, NULL);
        qk_tracker *t = (qk_tracker *)&d; /* must stay untouched */
        cr_assert_eq(qk_tracker_new(&t, &o), QK_EINVAL, "%s", bad[i]);
        cr_assert_eq(t, (qk_tracker *)&d);
        assert_no_secret(qk_errmsg(), "pw-XYZ");
    }
}

/* A state file truncated under a live store tracker (issue 26): its store area is a second
 * mapping of the file, guarded like the region (src/fault.h), so neither the caller's calls nor
 * the sync thread's passes die of SIGBUS. Every call fails with QK_ECORRUPT ("shrank"), a sync
 * too, and the tracker frees. Before the area's guard, the first sync after the truncation
 * killed the process. */
Test(store_faults, state_file_truncated_under_a_store_tracker)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    char dir[PATH_MAX], path[PATH_MAX], url[64];
    qkt_tmpdir_make(dir, "qk-truncated");
    redis_url(url, sizeof url, &srv);
    const qk_service_def d = qkt_svc_def("trunc", QK_DAY, 1000, 0, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, qkt_path(path, dir, "s.qk"));
    qk_tracker *t = store_tracker(&o);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(truncate(path, 0), 0);

    int rc = qk_store_sync(t); /* touches the area first */
    cr_assert_eq(rc, QK_ECORRUPT, "sync: %s (%s)", qk_strerror(rc), qk_errmsg());
    cr_assert_not_null(strstr(qk_errmsg(), "shrank"), "%s", qk_errmsg());
    rc = qk_try_consume(t, 0, 1, 0, NULL);
    cr_assert_eq(rc, QK_ECORRUPT, "consume: %s (%s)", qk_strerror(rc), qk_errmsg());
    rc = qk_record(t, 0, 1, NULL);
    cr_assert_eq(rc, QK_ECORRUPT, "record: %s (%s)", qk_strerror(rc), qk_errmsg());
    sleep_ms(600); /* the sync thread's passes, at least two, on the lost mappings */
    qk_usage u;
    rc = qk_peek(t, 0, &u);
    cr_assert_eq(rc, QK_ECORRUPT, "peek: %s (%s)", qk_strerror(rc), qk_errmsg());
    qk_tracker_free(t);
    qkt_tmpdir_remove(dir);
}
