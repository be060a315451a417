/* Retirement (issue 21, docs/store.md "Retirement"), written once for every backend: a host the
 * store has not heard from for QK__STORE_RETIRE_MS is retired by the other hosts' syncs, the
 * lease it held and did not use goes back to the fleet, and its counters move where only it
 * reads them; a host that then wakes up (a frozen Lambda environment thawed, a SIGSTOPped
 * process continued) stops using its old lease when its term runs out, syncs, and resumes
 * exactly. The bounds are shortened through the QK_TEST_HOOKS build (QK_TEST_RETIRE_MS,
 * QK_TEST_LEASE_TERM_MS), set before any tracker or host process starts.
 *
 * - a_stopped_host_is_retired_its_lease_reused_and_it_resumes_exactly: host A holds a lease and
 *   is SIGSTOPped past the bound; host B then gets every call A did not use (A's lease came
 *   back: without retirement B is refused A's unused lease); A, continued, is refused (its term
 *   ran out, so it asks the store, which has nothing left; without the term check it consumes
 *   its stale lease and the fleet goes past L); the store's counts are exact throughout.
 * - hosts_killed_and_stopped_at_random: six host processes consume one call at a time while the
 *   test SIGKILLs two and SIGSTOPs two past the bound at random moments. The fleet's grants stay
 *   within L plus what the retired hosts had used without the store hearing of it (the bound
 *   docs/store.md states: each host publishes its unsynced use after every consume, read when
 *   it is stopped); every host that lived is counted exactly once, the stopped ones included;
 *   in the end no lease is stranded (G == U). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "procs.h"
#include "qkt_criterion.h"
#include "qkt_store.h"

TestSuite(store_retire, .fini = qkt_servers_stop_all, .timeout = 240);

enum { RETIRE_MS = 1500, TERM_MS = 600, CALM_MS = 5000 };

static void short_bounds(void)
{
    char v[16];
    snprintf(v, sizeof v, "%d", RETIRE_MS);
    setenv("QK_TEST_RETIRE_MS", v, 1);
    snprintf(v, sizeof v, "%d", TERM_MS);
    setenv("QK_TEST_LEASE_TERM_MS", v, 1);
}

static void sleep_ms(long ms)
{
    const struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *host_id_of(qk_tracker *t, char *buf, size_t len)
{
    status_buf sb;
    snprintf(buf, len, "%s", status_of(t, &sb)->host_id);
    return buf;
}

/* ---- one host stopped past the bound ---- */

enum { L1 = 100 };

typedef struct {
    char url[160];
    char id[40];
    _Atomic int phase; /* 1: holds a lease and stops itself; 2: continued and tried once more */
    _Atomic uint64_t used, held;
    _Atomic int rc_after;
    char why[256];
} frozen;

static int frozen_host(void *arg)
{
    frozen *f = arg;
    const qk_service_def d = one_window("frozen", QK_FOREVER, L1, QK_OUTAGE_SAFE, 30);
    const qk_options o = store_options(&d, 1, f->url, CALM_MS, NULL);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    host_id_of(t, f->id, sizeof f->id);
    /* Consume until it holds a lease worth stopping with (bounded). */
    uint64_t used = 0, held = 0;
    for (int i = 0; i < 40 && held < 8; i++) {
        if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
            return 3;
        used++;
        status_buf sb;
        held = status_of(t, &sb)->services[0].windows[0].held;
    }
    if (held == 0)
        return 4;
    /* Its use reported (the sync thread does it within a second), as a Lambda handler that
     * synced before it returned: what a host used unreported when it stopped is the one thing
     * retirement can give out twice (docs/store.md), and hosts_killed_and_stopped_at_random
     * bounds that. */
    for (int i = 0; i < 1000; i++) {
        status_buf sb;
        const qk_store_window_info *w = &status_of(t, &sb)->services[0].windows[0];
        held = w->held;
        if (w->unsynced == 0)
            break;
        sleep_ms(10);
    }
    f->used = used;
    f->held = held;
    f->phase = 1;
    raise(SIGSTOP); /* a frozen Lambda environment: no thread of it runs */
    const int rc = qk_try_consume(t, 0, 1, 0, NULL);
    snprintf(f->why, sizeof f->why, "%s", rc == QK_OK ? "" : qk_errmsg());
    f->used += rc == QK_OK;
    f->rc_after = rc;
    f->phase = 2;
    qk_tracker_free(t);
    return 0;
}

static void wait_phase(frozen *f, int phase, pid_t pid)
{
    const int64_t until = qkt_mono_ms() + 30000;
    while (f->phase < phase) {
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "host A ended early (status %d)", st);
        cr_assert_lt(qkt_mono_ms(), until, "host A never reached phase %d", phase);
        sleep_ms(5);
    }
}

Test(store_retire, a_stopped_host_is_retired_its_lease_reused_and_it_resumes_exactly)
{
    short_bounds();
    qkt_server srv;
    char url[160];
    const qkc_backend *b = qkc_start(&srv, url, sizeof url);
    frozen *f = qkt_shared_mem(sizeof *f);
    snprintf(f->url, sizeof f->url, "%s", url);
    const pid_t pid = qkt_fork_run(frozen_host, f, 120);
    wait_phase(f, 1, pid);
    int st;
    cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
    cr_assert(WIFSTOPPED(st), "host A did not stop");

    sleep_ms(RETIRE_MS + 500); /* past the bound: the next sync of another host retires A */
    const qk_service_def d = one_window("frozen", QK_FOREVER, L1, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, CALM_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    uint64_t got = 0;
    int rc;
    while (got <= L1 && (rc = qk_try_consume(t, 0, 1, 0, NULL)) == QK_OK)
        got++;
    cr_assert_eq(rc, QK_ELIMIT, "%s: %s", qk_err_name(rc), qk_errmsg());
    cr_assert_eq(got + f->used, L1,
                 "host B got %llu, A used %llu and held %llu: A's unused lease did not come back",
                 (unsigned long long)got, (unsigned long long)f->used, (unsigned long long)f->held);
    /* B's last calls may be refused by its own count (the fleet's use as of its last sync, plus
     * its own since): send them before reading the store. */
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    qkc_view v;
    b->view(&srv, "frozen", 'f', &v);
    cr_assert(qkc_host_retired(&v, f->id), "host A was not retired");
    const qkc_host_view *a = qkc_host(&v, f->id);
    cr_assert_eq(a->u, f->used, "A's u %llu, it used %llu", (unsigned long long)a->u,
                 (unsigned long long)f->used);
    cr_assert_eq(a->g - a->x, a->u - a->r, "A still holds %llu", (unsigned long long)(a->g - a->x));
    cr_assert_eq(v.U, L1, "U %llu", (unsigned long long)v.U);
    cr_assert_eq(v.sum_u, v.U);

    /* A wakes up: its term ran out while it was stopped, so it asks the store first. */
    cr_assert_eq(kill(pid, SIGCONT), 0);
    wait_phase(f, 2, pid);
    cr_assert_eq(f->rc_after, QK_ELIMIT,
                 "woken host A got %s (%s): it consumed a lease the store had taken back",
                 qk_err_name(f->rc_after), f->why);
    assert_child_ok(pid, "host A");
    b->view(&srv, "frozen", 'f', &v);
    a = qkc_host(&v, f->id);
    cr_assert_eq(a->u, f->used, "A resumed with u %llu, it used %llu", (unsigned long long)a->u,
                 (unsigned long long)f->used);
    cr_assert_eq(v.U, L1, "U %llu after A woke up", (unsigned long long)v.U);
    cr_assert_eq(v.sum_u, v.U);
    cr_assert_eq(v.sum_g, v.G);
    qk_tracker_free(t);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* ---- hosts killed and stopped at random ---- */

enum { N_HOSTS = 6, L2 = 300, WANT2 = 200, RUN_MS = 5000 };

typedef struct {
    char url[160];
    char id[N_HOSTS][40];
    _Atomic uint64_t granted[N_HOSTS]; /* counted right after each grant */
    /* What the host had used and the store not yet acknowledged, after its last consume: read
     * when the test stops it, an upper bound (give or take the consume in flight) on what it
     * used unreported at that moment. */
    _Atomic uint64_t unsynced[N_HOSTS];
    _Atomic int ready[N_HOSTS], done[N_HOSTS];
    int bad_rc[N_HOSTS];
    char why[N_HOSTS][200];
} chaos;

typedef struct {
    chaos *c;
    int h;
} chaos_arg;

static int chaos_host(void *arg)
{
    const chaos_arg *a = arg;
    chaos *c = a->c;
    const qk_service_def d = one_window("chaos", QK_DAY, L2, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, c->url, CALM_MS, NULL);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    host_id_of(t, c->id[a->h], sizeof c->id[a->h]);
    c->ready[a->h] = 1;
    const int64_t until = qkt_mono_ms() + RUN_MS;
    unsigned seed = (unsigned)a->h * 7919u + 1;
    while (c->granted[a->h] < WANT2 && qkt_mono_ms() < until) {
        const int rc = qk_try_consume(t, 0, 1, 0, NULL);
        if (rc == QK_OK)
            atomic_fetch_add(&c->granted[a->h], 1);
        status_buf sb;
        c->unsynced[a->h] = status_of(t, &sb)->services[0].windows[0].unsynced;
        if (rc != QK_OK && rc != QK_ELIMIT) {
            c->bad_rc[a->h] = rc;
            snprintf(c->why[a->h], sizeof c->why[a->h], "%s", qk_errmsg());
            break;
        }
        sleep_ms(2 + (long)(rand_r(&seed) % 20));
    }
    qk_tracker_free(t);
    c->done[a->h] = 1;
    return 0;
}

Test(store_retire, hosts_killed_and_stopped_at_random)
{
    short_bounds();
    qkt_server srv;
    char url[160];
    const qkc_backend *b = qkc_start(&srv, url, sizeof url);
    chaos *c = qkt_shared_mem(sizeof *c);
    snprintf(c->url, sizeof c->url, "%s", url);
    chaos_arg args[N_HOSTS];
    pid_t pid[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        args[h] = (chaos_arg){c, h};
        pid[h] = qkt_fork_run(chaos_host, &args[h], 120);
    }
    for (int h = 0; h < N_HOSTS; h++) {
        const int64_t until = qkt_mono_ms() + 30000;
        while (!c->ready[h]) {
            cr_assert_lt(qkt_mono_ms(), until, "host %d never started", h);
            sleep_ms(5);
        }
    }
    /* Hosts 0 and 1 are killed, 2 and 3 stopped past the bound and continued, at moments drawn
     * from the seed; 4 and 5 run undisturbed. */
    unsigned seed = (unsigned)time(NULL);
    cr_log_info("seed %u", seed);
    const long kill_at[2] = {200 + rand_r(&seed) % 1500, 200 + rand_r(&seed) % 1500};
    const long stop_at[2] = {100 + rand_r(&seed) % 800, 100 + rand_r(&seed) % 800};
    const long stop_for = RETIRE_MS + 600;
    const int64_t t0 = qkt_mono_ms();
    int killed[2] = {0, 0}, stopped[2] = {0, 0}, continued[2] = {0, 0};
    uint64_t unsynced_at_stop = 0;
    while (qkt_mono_ms() - t0 < RUN_MS + 3000) {
        const long now = (long)(qkt_mono_ms() - t0);
        for (int i = 0; i < 2; i++) {
            if (!killed[i] && now >= kill_at[i]) {
                kill(pid[i], SIGKILL);
                killed[i] = 1;
            }
            if (!stopped[i] && now >= stop_at[i]) {
                kill(pid[2 + i], SIGSTOP);
                int st;
                cr_assert_eq(waitpid(pid[2 + i], &st, WUNTRACED), pid[2 + i]);
                unsynced_at_stop += c->unsynced[2 + i] + 1; /* + the consume in flight */
                stopped[i] = 1;
            }
            if (stopped[i] && !continued[i] && now >= stop_at[i] + stop_for) {
                kill(pid[2 + i], SIGCONT);
                continued[i] = 1;
            }
        }
        int all_done = continued[0] && continued[1];
        for (int h = 2; h < N_HOSTS; h++)
            all_done &= c->done[h];
        if (all_done && killed[0] && killed[1])
            break;
        sleep_ms(5);
    }
    for (int h = 0; h < N_HOSTS; h++) {
        const int st = qkt_wait_child(pid[h]);
        if (h < 2)
            cr_assert(st == 0 || st == 1000 + SIGKILL, "host %d: status %d", h, st);
        else
            cr_assert_eq(st, 0, "host %d: status %d", h, st);
        cr_assert_eq(c->bad_rc[h], QK_OK, "host %d: %s: %s", h, qk_err_name(c->bad_rc[h]),
                     c->why[h]);
    }
    /* Past the bound once more, a last host's sync retires the killed hosts and takes back
     * what they held. */
    sleep_ms(RETIRE_MS + 500);
    const qk_service_def d = one_window("chaos", QK_DAY, L2, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, CALM_MS, NULL);
    qk_tracker *last = store_tracker(&o);
    cr_assert_eq(qk_store_sync(last), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(last);

    qkc_view v;
    b->view(&srv, "chaos", 'd', &v);
    uint64_t lived = 0, killed_acked = 0, killed_granted = 0;
    for (int h = 0; h < N_HOSTS; h++) {
        const qkc_host_view *hv = qkc_host(&v, c->id[h]);
        cr_assert(qkc_host_retired(&v, c->id[h]), "host %d was not retired", h);
        cr_assert_eq(hv->g - hv->x, hv->u - hv->r, "host %d still holds a lease", h);
        if (h < 2) {
            /* A kill loses what the host used since its last sync (never more than it used) and
             * at most the one grant between the consume and the test's count. */
            cr_assert_leq(hv->u, c->granted[h] + 1, "killed host %d: u %llu, granted %llu", h,
                          (unsigned long long)hv->u, (unsigned long long)c->granted[h]);
            killed_acked += hv->u;
            killed_granted += c->granted[h];
        } else {
            cr_assert_eq(hv->u, c->granted[h], "host %d (%s): u %llu, granted %llu", h,
                         h < 4 ? "stopped past the bound" : "undisturbed",
                         (unsigned long long)hv->u, (unsigned long long)c->granted[h]);
            lived += c->granted[h];
        }
    }
    cr_log_info("%s: lived %llu, killed granted %llu (acked %llu), U %llu, unsynced at the "
                "stops <= %llu",
                b->name, (unsigned long long)lived, (unsigned long long)killed_granted,
                (unsigned long long)killed_acked, (unsigned long long)v.U,
                (unsigned long long)unsynced_at_stop);
    cr_assert_eq(v.U, lived + killed_acked, "U %llu: counted twice or lost",
                 (unsigned long long)v.U);
    /* The bound docs/store.md states: the fleet's grants pass L by at most what retired hosts
     * had used unreported (a stopped host reports it when it wakes: it is in U; a killed host's
     * never reaches the store: it is in the grants the test counted). */
    cr_assert_leq(v.U, L2 + unsynced_at_stop, "U %llu past L %d + %llu unsynced at the stops",
                  (unsigned long long)v.U, L2, (unsigned long long)unsynced_at_stop);
    cr_assert_leq(lived + killed_granted, L2 + unsynced_at_stop + (killed_granted - killed_acked),
                  "the fleet was granted %llu of %d", (unsigned long long)(lived + killed_granted),
                  L2);
    cr_assert_eq(v.sum_u, v.U);
    cr_assert_eq(v.G, v.U, "G %llu, U %llu: a lease is stranded", (unsigned long long)v.G,
                 (unsigned long long)v.U);
    cr_assert_eq(v.sum_g, v.G);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}
