/* The fleet on DynamoDB (issue 10): the Redis store's fleet tests against dynalite. K processes
 * as K hosts racing for one quota are granted exactly the limit; a sync running while other
 * threads record, and two hosts syncing one service at the same moment, lose and double
 * nothing; a host killed mid-sync and restarted on its state file resends only what the store
 * lacks. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "ddb_test.h"
#include "procs.h"

TestSuite(ddb_fleet, .fini = qkt_servers_stop_all, .timeout = 240);

enum { HOSTS = 4, THREADS = 2, LIMIT = 150, WANT_PER_THREAD = 25 };

typedef struct {
    const char *url;
    char path[PATH_MAX]; /* "" : no state file */
    _Atomic uint64_t *admitted;
    _Atomic uint64_t *unavail;
    qkt_pbarrier *go;
    unsigned want; /* per thread; 0: until the fleet is full */
} host_arg;

typedef struct {
    qk_tracker *t;
    host_arg *h;
} thread_arg;

static void *consume_thread(void *p)
{
    thread_arg *a = p;
    for (unsigned got = 0; a->h->want == 0 || got < a->h->want;) {
        const int rc = qk_try_consume(a->t, 0, 1, 0, NULL);
        if (rc == QK_OK) {
            got++;
            atomic_fetch_add(a->h->admitted, 1);
        } else if (rc == QK_ELIMIT) {
            break;
        } else {
            atomic_fetch_add(a->h->unavail, 1);
            break;
        }
    }
    return NULL;
}

static int host(void *p)
{
    host_arg *h = p;
    const qk_service_def d = one_window("race", QK_FOREVER, LIMIT, QK_OUTAGE_CLOSED, 0);
    const qk_options o = store_options(&d, 1, h->url, CALM_TIMEOUT_MS, h->path[0] ? h->path : NULL);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    if (h->go != NULL)
        qkt_pbarrier_wait(h->go);
    pthread_t th[THREADS];
    thread_arg a = {t, h};
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, consume_thread, &a);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    qk_tracker_free(t); /* gives back the unused lease */
    return QKT_CHILD_OK;
}

Test(ddb_fleet, racing_hosts_are_granted_exactly_the_limit)
{
    qkt_server srv;
    start_dynalite(&srv);
    char url[128], dir[PATH_MAX];
    ddb_url(url, sizeof url, &srv, TABLE);
    qkt_tmpdir_make(dir, "qk-ddb-fleet");
    _Atomic uint64_t *counts = qkt_shared_mem(2 * sizeof *counts);
    qkt_pbarrier go;
    qkt_pbarrier_init(&go);
    host_arg args[HOSTS];
    pid_t pids[HOSTS];
    for (int i = 0; i < HOSTS; i++) {
        args[i] = (host_arg){url, "", &counts[0], &counts[1], &go, WANT_PER_THREAD};
        if (i % 2 == 0) { /* half with state files, half as bare processes */
            char name[32];
            snprintf(name, sizeof name, "host%d.qk", i);
            qkt_path(args[i].path, dir, name);
        }
        pids[i] = qkt_fork_run(host, &args[i], 200);
    }
    qkt_pbarrier_release(&go);
    for (int i = 0; i < HOSTS; i++)
        cr_assert_eq(qkt_wait_child(pids[i]), QKT_CHILD_OK, "host %d", i);
    cr_assert_eq(atomic_load(&counts[1]), 0, "a consume failed for the store");
    /* 4 hosts x 2 threads x 25 = 200 wanted of 150: every host stopped at its want or at the
     * limit, and gave back what it held. */
    const uint64_t first = atomic_load(&counts[0]);
    cr_assert_leq(first, LIMIT, "the fleet admitted %llu of %d", (unsigned long long)first, LIMIT);
    fleet_view f = fleet_of(srv.port, "race", 'f');
    cr_assert_eq(f.U, first, "the store's U %llu, the hosts admitted %llu", (unsigned long long)f.U,
                 (unsigned long long)first);
    cr_assert_eq(f.sum_u, f.U, "U is not the sum of the hosts' use");
    cr_assert_eq(f.G, f.U, "leases were not all given back (G %llu, U %llu)",
                 (unsigned long long)f.G, (unsigned long long)f.U);
    cr_assert_eq(f.sum_g, f.G);
    /* One more host takes whatever was given back: exactly the limit in all. */
    host_arg last = {url, "", &counts[0], &counts[1], NULL, 0};
    cr_assert_eq(qkt_wait_child(qkt_fork_run(host, &last, 200)), QKT_CHILD_OK);
    cr_assert_eq(atomic_load(&counts[0]), LIMIT, "the fleet admitted %llu of %d",
                 (unsigned long long)atomic_load(&counts[0]), LIMIT);
    f = fleet_of(srv.port, "race", 'f');
    cr_assert_eq(f.U, LIMIT);
    cr_assert_eq(f.G, LIMIT);
    cr_assert_eq(f.hosts, HOSTS + 1);
    qkt_tmpdir_remove(dir);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* ---- recording while syncing; two hosts syncing at the same moment ---- */

enum { RECORDERS = 3, RECORDS = 400, SYNC_ROUNDS = 40 };

typedef struct {
    qk_tracker *t[2];
    _Atomic int stop;
    pthread_barrier_t both;
    int failures;
} sync_ctx;

static void *recorder(void *p)
{
    qk_tracker *t = p;
    for (int i = 0; i < RECORDS; i++)
        cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
    return NULL;
}

typedef struct {
    sync_ctx *c;
    int which;
} syncer_arg;

static void *syncer(void *p)
{
    syncer_arg *a = p;
    for (int i = 0; i < SYNC_ROUNDS; i++) {
        pthread_barrier_wait(&a->c->both); /* both hosts sync one service at the same moment */
        if (qk_store_sync(a->c->t[a->which]) != QK_OK)
            a->c->failures++;
    }
    return NULL;
}

Test(ddb_fleet, records_during_syncs_and_simultaneous_hosts_are_exact)
{
    qkt_server srv;
    start_dynalite(&srv);
    char url[128];
    ddb_url(url, sizeof url, &srv, TABLE);
    const qk_service_def d = one_window("busy", QK_DAY, 1000000, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    sync_ctx c;
    memset(&c, 0, sizeof c);
    c.t[0] = store_tracker(&o);
    c.t[1] = store_tracker(&o);
    pthread_barrier_init(&c.both, NULL, 2);
    pthread_t rec[2][RECORDERS], sy[2];
    syncer_arg sa[2] = {{&c, 0}, {&c, 1}};
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < RECORDERS; i++)
            pthread_create(&rec[h][i], NULL, recorder, c.t[h]);
        pthread_create(&sy[h], NULL, syncer, &sa[h]);
    }
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < RECORDERS; i++)
            pthread_join(rec[h][i], NULL);
        pthread_join(sy[h], NULL);
    }
    cr_assert_eq(c.failures, 0, "a sync failed");
    for (int h = 0; h < 2; h++)
        cr_assert_eq(qk_store_sync(c.t[h]), QK_OK, "%s", qk_errmsg());
    const uint64_t total = 2 * RECORDERS * RECORDS;
    fleet_view f = fleet_of(srv.port, "busy", 'd');
    cr_assert_eq(f.U, total, "U %llu, recorded %llu", (unsigned long long)f.U,
                 (unsigned long long)total);
    cr_assert_eq(f.sum_u, total);
    cr_assert_eq(f.hosts, 2);
    for (int h = 0; h < 2; h++) {
        cr_assert_eq(used_of(c.t[h], 0, 0), total, "host %d shows %llu", h,
                     (unsigned long long)used_of(c.t[h], 0, 0));
        qk_tracker_free(c.t[h]);
    }
    pthread_barrier_destroy(&c.both);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* ---- a host killed mid-sync, restarted on its state file ---- */

typedef struct {
    const char *url, *path;
    _Atomic uint64_t *recorded;
} victim_arg;

static int victim(void *p)
{
    victim_arg *v = p;
    const qk_service_def d = one_window("killed", QK_FOREVER, 1000000, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, v->url, CALM_TIMEOUT_MS, v->path);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    for (;;) { /* records and syncs until it is killed, mostly in the middle of a sync */
        if (qk_record(t, 0, 1, NULL) != QK_OK)
            return 3;
        atomic_fetch_add(v->recorded, 1);
        qk_store_sync(t);
    }
}

Test(ddb_fleet, host_killed_mid_sync_resends_only_what_the_store_lacks)
{
    qkt_server srv;
    start_dynalite(&srv);
    char url[128], dir[PATH_MAX], path[PATH_MAX];
    ddb_url(url, sizeof url, &srv, TABLE);
    qkt_tmpdir_make(dir, "qk-ddb-kill");
    qkt_path(path, dir, "host.qk");
    _Atomic uint64_t *recorded = qkt_shared_mem(sizeof *recorded);
    victim_arg v = {url, path, recorded};
    for (int round = 0; round < 3; round++) {
        const pid_t pid = qkt_fork_run(victim, &v, 100);
        const uint64_t before = atomic_load(recorded);
        while (atomic_load(recorded) < before + 20)
            sleep_ms(2);
        sleep_ms(3 + 7 * round); /* a different moment of a sync each round */
        kill(pid, SIGKILL);
        cr_assert_eq(qkt_wait_child(pid), 1000 + SIGKILL);
    }
    /* The host restarts on its state file and syncs: the store gets what it lacked, once. */
    const qk_service_def d = one_window("killed", QK_FOREVER, 1000000, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, path);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    const uint64_t n = atomic_load(recorded);
    fleet_view f = fleet_of(srv.port, "killed", 'f');
    /* A kill between a record and the test's count of it leaves the store one ahead of the
     * count (at most once per kill): never behind it, never doubled. */
    cr_assert(f.U >= n && f.U <= n + 3, "U %llu for %llu records (the host counts %llu)",
              (unsigned long long)f.U, (unsigned long long)n, (unsigned long long)used_of(t, 0, 0));
    cr_assert_eq(f.hosts, 1, "the restarted host is the same host");
    cr_assert_eq(used_of(t, 0, 0), f.U, "the host's count %llu, the store's %llu",
                 (unsigned long long)used_of(t, 0, 0), (unsigned long long)f.U);
    status_buf sb;
    cr_assert_eq(status_of(t, &sb)->services[0].windows[0].unsynced, 0);
    qk_tracker_free(t);
    qkt_tmpdir_remove(dir);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}
