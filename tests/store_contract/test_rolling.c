/* Rolling windows in the fleet (issue 22, item 4; docs/store.md, "Rolling windows"), on every
 * backend of backend.h.
 *
 * never_past_the_limit_in_any_interval: HOSTS host processes (one on a state file), two threads
 * each, consume one call at a time for RUN_MS on a rolling window of W = 2 s and limit L, and
 * every grant is logged with the wall-clock interval its consume ran in (grant_log.h: the
 * store's clock on this machine). No interval of length W may hold more than L grants, and the
 * fleet must have been granted at least a fifth of L per W (a store that refused everything
 * would pass the first check alone). Catches a piece whose grant leaves no room for its
 * window's other pieces (each piece would grant L: up to W/P L in one W; put back by hand, it
 * failed on both backends), and a host that goes on consuming a piece's lease after the piece
 * ended. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "clock.h"
#include "grant_log.h"
#include "procs.h"
#include "qkt_criterion.h"
#include "qkt_store.h"
#include "tmpdir.h"

TestSuite(store_rolling, .fini = qkt_servers_stop_all, .timeout = 240);

enum {
    HOSTS = 3,
    THREADS = 2,
    LIMIT = 40,
    WINDOW_MS = 2000,
    RUN_MS = 8000,
    LOG_CAP = 1 << 16,
    TIMEOUT_MS = 1000,
};

typedef struct {
    char url[160];
    char path[HOSTS][PATH_MAX]; /* "": a private tracker */
    qkt_pbarrier go;
    int bad_rc[HOSTS];
    char why[HOSTS][256];
    qkt_grant_log log; /* last: LOG_CAP grants follow */
} fleet;

static fleet *F;

typedef struct {
    qk_tracker *t;
    int host;
    int64_t until_us;
    int bad_rc;
} worker;

static void *consume_for_a_while(void *arg)
{
    worker *w = arg;
    while (qkt_wall_us() < w->until_us) {
        const int64_t before = qkt_wall_us();
        const int rc = qk_try_consume(w->t, 0, 1, 0, NULL);
        const int64_t after = qkt_wall_us();
        if (rc == QK_OK) {
            if (qkt_grant_log_add(&F->log, before, after) != 0)
                break;
            continue;
        }
        if (rc != QK_ELIMIT) {
            w->bad_rc = rc;
            snprintf(F->why[w->host], sizeof F->why[w->host], "%s", qk_errmsg());
            break;
        }
        const struct timespec ms = {0, 1000000}; /* refused: a breath, not a spin */
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static int host_main(void *arg)
{
    const int h = (int)(intptr_t)arg;
    const qk_service_def d = {
        .name = "rolling",
        .windows = {{QK_SECOND, LIMIT, .every = WINDOW_MS / 1000, .flags = QK_WINDOW_ROLLING}}};
    const qk_options o =
        store_options(&d, 1, F->url, TIMEOUT_MS, F->path[h][0] ? F->path[h] : NULL);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK) {
        snprintf(F->why[h], sizeof F->why[h], "open: %s", qk_errmsg());
        F->bad_rc[h] = -1;
        return QKT_CHILD_OK;
    }
    qkt_pbarrier_wait(&F->go);
    worker w[THREADS];
    pthread_t th[THREADS];
    const int64_t until = qkt_wall_us() + RUN_MS * 1000;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){t, h, until, QK_OK};
        pthread_create(&th[i], NULL, consume_for_a_while, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].bad_rc != QK_OK)
            F->bad_rc[h] = w[i].bad_rc;
    }
    qk_tracker_free(t);
    return QKT_CHILD_OK;
}

Test(store_rolling, never_past_the_limit_in_any_interval)
{
    char dir[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-contract-rolling");
    qkt_server srv;
    F = qkt_shared_mem(sizeof *F + LOG_CAP * sizeof(qkt_grant));
    F->log.cap = LOG_CAP;
    const qkc_backend *b = qkc_start(&srv, F->url, sizeof F->url);
    qkt_path(F->path[0], dir, "host0.qk");
    qkt_pbarrier_init(&F->go);
    pid_t pid[HOSTS];
    for (int h = 0; h < HOSTS; h++)
        pid[h] = qkt_fork_run(host_main, (void *)(intptr_t)h, 120);
    qkt_pbarrier_release(&F->go);
    for (int h = 0; h < HOSTS; h++) {
        assert_child_ok(pid[h], "host");
        cr_assert_eq(F->bad_rc[h], QK_OK, "host %d: %d: %s", h, F->bad_rc[h], F->why[h]);
    }
    const uint64_t n = F->log.n;
    cr_assert_leq(n, LOG_CAP, "%llu grants: more than the log holds", (unsigned long long)n);
    int64_t at = 0;
    const uint64_t most = qkt_grant_log_max(&F->log, WINDOW_MS * 1000, &at);
    const uint64_t floor = (uint64_t)LIMIT * (RUN_MS / WINDOW_MS) / 5;
    cr_log_info("%s: %llu grants in %d ms (a perfect limiter: %d); at most %llu in a window of "
                "%d ms (limit %d)",
                b->name, (unsigned long long)n, RUN_MS, LIMIT * (RUN_MS / WINDOW_MS + 1),
                (unsigned long long)most, WINDOW_MS, LIMIT);
    cr_expect_leq(most, LIMIT, "%llu grants in the %d ms before %lld us: past the limit %d",
                  (unsigned long long)most, WINDOW_MS, (long long)at, LIMIT);
    cr_expect_geq(n, floor, "only %llu grants in %d ms (at least %llu expected)",
                  (unsigned long long)n, RUN_MS, (unsigned long long)floor);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* contract_sequences: the rolling contract's safety (docs/windows.md) for store trackers, in
 * seeded random sequences. HOSTS host processes (one on a state file) share SEQ_SERVICES
 * services, each a rolling window of its own length (1, 2 or 3 s) and limit (4..40, some with a
 * reserve); each host runs a seeded sequence of operations on random services for SEQ_RUN_MS:
 * consumes of 1-3 calls (some QK_PRIORITY), records, refunds, set_used up and down, resets and
 * pauses, on a clock of its own that steps back and forth by up to SKEW_STEP_MS (the store's
 * offset takes up each step at the next sync; docs/store.md bounds what it covers). Every grant
 * is logged with the interval its consume ran in and its host's refunds take back its newest
 * grants of that service; then no interval of a service's length holds more than its limit of
 * calls granted by consumes (records are facts: they may push a window over, never a consume).
 * Catches what never_past_the_limit_in_any_interval does, across shapes, with the operations
 * that change a host's view without the store's (set_used, reset), refunds, priorities and
 * steps of a host's clock. */
enum { SEQ_SERVICES = 16, SEQ_RUN_MS = 6000, SEQ_LOG_CAP = 8192, SKEW_STEP_MS = 50 };

typedef struct {
    char url[160];
    char path[HOSTS][PATH_MAX];
    qkt_pbarrier go;
    uint64_t seed;
    char why[HOSTS][256];
    _Atomic uint64_t ops, refused, records, refunds;
    qk_service_def def[SEQ_SERVICES];
    char names[SEQ_SERVICES][16];
} seq_fleet;

static seq_fleet *S;
static qkt_grant_log *seq_log[SEQ_SERVICES]; /* shared, SEQ_LOG_CAP grants each */

static uint64_t seq_rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A host's clock: the wall clock, stepped by up to SKEW_STEP_MS either way. */
static _Atomic int64_t host_skew_ms;
static int64_t skewed_clock(void *ctx)
{
    (void)ctx;
    return qkt_wall_us() / 1000 + atomic_load_explicit(&host_skew_ms, memory_order_relaxed);
}

static int seq_host(void *arg)
{
    const int h = (int)(intptr_t)arg;
    uint64_t x = S->seed * 7919 + (uint64_t)h * 104729 + 1;
    qk_options o =
        store_options(S->def, SEQ_SERVICES, S->url, TIMEOUT_MS, S->path[h][0] ? S->path[h] : NULL);
    o.clock = skewed_clock;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK) {
        snprintf(S->why[h], sizeof S->why[h], "open: %s", qk_errmsg());
        return QKT_CHILD_OK;
    }
    /* This host's grants per service, newest last, for its refunds to take back. */
    static int64_t mine[SEQ_SERVICES][SEQ_LOG_CAP];
    static size_t n_mine[SEQ_SERVICES];
    qkt_pbarrier_wait(&S->go);
    const int64_t until = qkt_wall_us() + SEQ_RUN_MS * 1000;
    int64_t next_step = 0;
    while (qkt_wall_us() < until) {
        if (qkt_wall_us() >= next_step) {
            atomic_store(&host_skew_ms,
                         (int64_t)(seq_rnd(&x) % (2 * SKEW_STEP_MS + 1)) - SKEW_STEP_MS);
            next_step = qkt_wall_us() + 100000 + (int64_t)(seq_rnd(&x) % 200000);
        }
        const qk_service s = (qk_service)(seq_rnd(&x) % SEQ_SERVICES);
        const unsigned op = (unsigned)(seq_rnd(&x) % 100);
        int rc = QK_OK;
        atomic_fetch_add(&S->ops, 1);
        if (op < 80) {
            const uint64_t n = 1 + seq_rnd(&x) % 3;
            const unsigned flags = seq_rnd(&x) % 4 == 0 ? QK_PRIORITY : 0;
            const int64_t before = qkt_wall_us();
            rc = qk_try_consume(t, s, n, flags, NULL);
            const int64_t after = qkt_wall_us();
            if (rc == QK_OK) {
                const int64_t i = qkt_grant_log_add_n(seq_log[s], before, after, n);
                if (i < 0 || n_mine[s] == SEQ_LOG_CAP) {
                    snprintf(S->why[h], sizeof S->why[h], "the grant log is full");
                    break;
                }
                mine[s][n_mine[s]++] = i;
            } else if (rc == QK_ELIMIT) {
                atomic_fetch_add(&S->refused, 1);
                rc = QK_OK;
            }
        } else if (op < 82) {
            rc = qk_record(t, s, 1, NULL);
            atomic_fetch_add(&S->records, 1);
        } else if (op < 86) {
            /* A refund gives back this host's newest calls: take them off its newest grants. */
            uint64_t n = 1 + seq_rnd(&x) % 2;
            rc = qk_refund(t, s, n);
            atomic_fetch_add(&S->refunds, 1);
            while (rc == QK_OK && n > 0 && n_mine[s] > 0) {
                qkt_grant *g = &seq_log[s]->g[mine[s][n_mine[s] - 1]];
                const uint64_t take = g->n < n ? g->n : n;
                g->n -= take;
                n -= take;
                if (g->n == 0)
                    n_mine[s]--;
            }
        } else if (op < 87) {
            rc = qk_set_used(t, s, 0, seq_rnd(&x) % (S->def[s].windows[0].limit + 1));
        } else if (op < 88) {
            rc = qk_reset(t, s);
        } else {
            const struct timespec pause = {0, (long)(seq_rnd(&x) % 20) * 1000000L};
            nanosleep(&pause, NULL);
        }
        if (rc != QK_OK) {
            snprintf(S->why[h], sizeof S->why[h], "op %u on service %u: %s: %s", op, s,
                     qk_err_name(rc), qk_errmsg());
            break;
        }
    }
    qk_tracker_free(t);
    return QKT_CHILD_OK;
}

Test(store_rolling, contract_sequences)
{
    char dir[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-contract-rolling-seq");
    qkt_server srv;
    S = qkt_shared_mem(sizeof *S);
    for (unsigned s = 0; s < SEQ_SERVICES; s++)
        seq_log[s] = qkt_shared_mem(qkt_grant_log_size(SEQ_LOG_CAP));
    const char *env = getenv("QK_ROLLING_SEED");
    S->seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)qkt_wall_us();
    cr_log_info("store_rolling::contract_sequences seed %llu (QK_ROLLING_SEED replays its "
                "shapes and operations)",
                (unsigned long long)S->seed);
    uint64_t x = S->seed | 1;
    for (unsigned s = 0; s < SEQ_SERVICES; s++) {
        seq_log[s]->cap = SEQ_LOG_CAP;
        snprintf(S->names[s], sizeof S->names[s], "seq%u", s);
        const uint64_t limit = 4 + seq_rnd(&x) % 37;
        S->def[s] = (qk_service_def){.name = S->names[s],
                                     .reserve = seq_rnd(&x) % 3 == 0 ? 2 : 0,
                                     .outage = QK_OUTAGE_CLOSED};
        S->def[s].windows[0] = (qk_window_def){
            QK_SECOND, limit, .every = 1 + (unsigned)(seq_rnd(&x) % 3), .flags = QK_WINDOW_ROLLING};
    }
    const qkc_backend *b = qkc_start(&srv, S->url, sizeof S->url);
    qkt_path(S->path[0], dir, "host0.qk");
    qkt_pbarrier_init(&S->go);
    pid_t pid[HOSTS];
    for (int h = 0; h < HOSTS; h++)
        pid[h] = qkt_fork_run(seq_host, (void *)(intptr_t)h, 120);
    qkt_pbarrier_release(&S->go);
    for (int h = 0; h < HOSTS; h++) {
        assert_child_ok(pid[h], "host");
        cr_assert_eq(S->why[h][0], '\0', "host %d: %s", h, S->why[h]);
    }
    uint64_t granted = 0;
    for (unsigned s = 0; s < SEQ_SERVICES; s++) {
        const qk_window_def *w = &S->def[s].windows[0];
        int64_t at = 0;
        for (uint64_t i = 0; i < seq_log[s]->n && i < SEQ_LOG_CAP; i++)
            granted += seq_log[s]->g[i].n;
        const uint64_t most = qkt_grant_log_max(seq_log[s], (int64_t)w->every * 1000000, &at);
        cr_expect_leq(most, w->limit,
                      "seed %llu, service %u (%u s, limit %llu): %llu calls in the interval "
                      "before %lld us",
                      (unsigned long long)S->seed, s, w->every, (unsigned long long)w->limit,
                      (unsigned long long)most, (long long)at);
    }
    cr_log_info("%s: %llu operations, %llu calls granted, %llu consumes refused, %llu records, "
                "%llu refunds over %d services",
                b->name, (unsigned long long)S->ops, (unsigned long long)granted,
                (unsigned long long)S->refused, (unsigned long long)S->records,
                (unsigned long long)S->refunds, SEQ_SERVICES);
    cr_expect_gt(granted, 0, "nothing was granted");
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}
