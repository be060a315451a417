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
