/* The seeded fault runs for rolling windows (issue 22, item 4; docs/store.md, "Rolling windows:
 * leased in pieces"): hosts share a rolling window of one second through the fault proxy
 * (proxy.h), and whatever the proxy does to their requests and replies, no interval of one second
 * holds more than the limit L of their grants.
 *
 * Each run: a fresh service on one redis-server, K = 2 or 3 host processes (forked, each its own
 * tracker, host id, sync thread and connections), a limit L of 10..40 per rolling second, a
 * lease_max of adaptive, 1 or 3, a 50 ms store timeout and QK_OUTAGE_CLOSED (the policy that never
 * passes the lease while the store is out). Every host consumes one call at a time for RUN_MS,
 * pausing 1 ms after a refusal and probing with qk_store_sync after QK_EUNAVAIL, and logs each
 * grant with the wall-clock interval its consume ran in (grant_log.h; the store's clock on this
 * machine). Then the most grants that certainly fall in one interval of a second must be at most
 * L, and the fleet must have been granted something. Delays reach beyond the client's timeout, so
 * requests land after their host gave up, duplicates land after newer requests, and replies are
 * lost after the store applied them: the pieces' grants must still add up across them.
 *
 * First, one host whose every reply is held past the rolling margin: none of its grants is used
 * (slow_answers_grant_nothing_usable, below).
 *
 * Usage: qk_proxy_rolling [--runs N (8)] [--first SEED (1)] [--seed SEED] [-v] */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "fail.h"
#include "grant_log.h"
#include "procs.h"
#include "proxy.h"
#include "proxy_runs.h"
#include "quotakeeper.h"
#include "servers.h"

enum {
    MAX_HOSTS = 3,
    STORE_TIMEOUT_MS = 50,
    RUN_MS = 2500,
    RUN_LIMIT_S = 30,
    WINDOW_MS = 1000,
    LOG_CAP = 1 << 15,
};

typedef struct {
    char error[MAX_HOSTS][256]; /* set by a host that broke */
    _Atomic uint64_t unavailable;
    qkt_grant_log log; /* last: LOG_CAP grants follow */
} run_shared;

typedef struct {
    uint64_t seed;
    unsigned hosts;
    uint64_t limit, lease_max;
    unsigned fault_pct;
    char service[32];
    char url[64];
    run_shared *shared;
    unsigned index;
} run_plan;

static int host_main(void *arg)
{
    const run_plan *plan = arg;
    char *why = plan->shared->error[plan->index];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    qk_service_def def = {.name = plan->service,
                          .windows = {{QK_SECOND, plan->limit, .flags = QK_WINDOW_ROLLING}},
                          .outage = QK_OUTAGE_CLOSED,
                          .lease_max = plan->lease_max};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &def;
    o.n_services = 1;
    o.store = plan->url;
    o.store_timeout_ms = STORE_TIMEOUT_MS;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK) {
        snprintf(why, 256, "qk_tracker_new: %s", qk_errmsg());
        return 1;
    }
    const int64_t until = qkt_wall_us() + RUN_MS * 1000;
    while (qkt_wall_us() < until) {
        const int64_t before = qkt_wall_us();
        const int rc = qk_try_consume(t, 0, 1, 0, NULL);
        const int64_t after = qkt_wall_us();
        if (rc == QK_OK) {
            if (qkt_grant_log_add(&plan->shared->log, before, after) != 0) {
                snprintf(why, 256, "the grant log is full");
                return 1;
            }
        } else if (rc == QK_ELIMIT) {
            qkp_sleep_ms(1);
        } else if (rc == QK_EUNAVAIL) {
            atomic_fetch_add(&plan->shared->unavailable, 1);
            (void)qk_store_sync(t); /* a probe: its successes end the degraded state */
        } else {
            snprintf(why, 256, "qk_try_consume: %s (%s)", qk_err_name(rc), qk_errmsg());
            return 1;
        }
    }
    qk_tracker_free(t);
    return 0;
}

static void mark_killed(void *ctx, unsigned i)
{
    run_shared *shared = ctx;
    snprintf(shared->error[i], sizeof shared->error[i], "killed: past %d s", RUN_LIMIT_S);
}

static bool run_one(uint64_t seed, const qkt_server *redis, run_shared *shared, bool verbose)
{
    const uint64_t r = qkp_mix(seed);
    run_plan plan = {.seed = seed, .shared = shared};
    plan.hosts = 2 + (unsigned)(r % 2);
    plan.limit = 10 + (r >> 8) % 31;
    static const uint64_t lease_max[] = {0, 1, 3};
    plan.lease_max = lease_max[(r >> 16) % 3];
    plan.fault_pct = 15 + (unsigned)((r >> 24) % 16);
    snprintf(plan.service, sizeof plan.service, "pr%llu", (unsigned long long)seed);
    memset(shared, 0, sizeof *shared);
    shared->log.cap = LOG_CAP;
    const int64_t t0 = qkt_mono_ms();
    qkp_proxy *p = qkp_open_run(redis->port, seed, plan.fault_pct, STORE_TIMEOUT_MS, plan.url,
                                sizeof plan.url);
    pid_t pid[MAX_HOSTS];
    run_plan host_plan[MAX_HOSTS];
    int status[MAX_HOSTS];
    for (unsigned i = 0; i < plan.hosts; i++) {
        host_plan[i] = plan;
        host_plan[i].index = i;
        pid[i] = qkt_fork_run(host_main, &host_plan[i], RUN_LIMIT_S + 10);
    }
    qkp_drive_hosts(p, pid, status, plan.hosts, RUN_LIMIT_S, NULL, mark_killed, shared);
    qkp_stats ps;
    qkp_get_stats(p, &ps);
    qkp_close(p);

    bool ok = true;
    char why[1024] = "";
    size_t wl = 0;
#define WHY(...)                                                                                   \
    do {                                                                                           \
        ok = false;                                                                                \
        if (wl < sizeof why)                                                                       \
            wl += (size_t)snprintf(why + wl, sizeof why - wl, __VA_ARGS__);                        \
    } while (0)
    for (unsigned i = 0; i < plan.hosts; i++)
        if (status[i] != 0)
            WHY(" host %u exited %d: %s;", i, status[i],
                shared->error[i][0] ? shared->error[i] : "(no report)");
    const uint64_t granted = shared->log.n;
    int64_t at = 0;
    const uint64_t most = qkt_grant_log_max(&shared->log, WINDOW_MS * 1000, &at);
    if (most > plan.limit)
        WHY(" %llu grants in the second before %lld us, past L %llu;", (unsigned long long)most,
            (long long)at, (unsigned long long)plan.limit);
    if (granted == 0)
        WHY(" nothing was granted;");
#undef WHY
    if (verbose || !ok)
        printf("seed %llu: %u hosts, L %llu, lease_max %llu, faults %u%%: %llu granted in %d ms "
               "(at most %llu in a second), %llu unavailable; %llu requests, %llu duplicates "
               "landed; %.2f s\n",
               (unsigned long long)seed, plan.hosts, (unsigned long long)plan.limit,
               (unsigned long long)plan.lease_max, plan.fault_pct, (unsigned long long)granted,
               RUN_MS, (unsigned long long)most, (unsigned long long)shared->unavailable,
               (unsigned long long)ps.requests, (unsigned long long)ps.duplicates_landed,
               (double)(qkt_mono_ms() - t0) / 1000.0);
    if (!ok)
        qkp_run_failed("qk_proxy_rolling", seed, why);
    fflush(stdout);
    return ok;
}

/* ---- answers too slow to place a host in its piece ---- */

/* Every reply held 700-1,400 ms (the store timeout is 2.5 s, so each one arrives): a piece's grant
 * in an answer whose round trip is past 2 x QK__ROLLING_SKEW_MS cannot be placed in its piece
 * (docs/store.md, "Rolling windows: leased in pieces"), so it goes back unused and the consume that
 * waited for it is decided by the outage policy: QK_OUTAGE_CLOSED, QK_EUNAVAIL, nothing counted.
 * Catches a slow grant used anyway (QK_OK) and the consume told QK_ELIMIT, which would say the
 * fleet had nothing left. */
enum { SLOW_TIMEOUT_MS = 2500, SLOW_CONSUMES = 3 };

typedef struct {
    char url[64];
    int rc[SLOW_CONSUMES];
    uint64_t counted;
    char error[256];
} slow_shared;

static int slow_host(void *arg)
{
    slow_shared *sh = arg;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const qk_service_def def = {.name = "slow",
                                .windows = {{QK_MINUTE, 100, .flags = QK_WINDOW_ROLLING}},
                                .outage = QK_OUTAGE_CLOSED};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &def;
    o.n_services = 1;
    o.store = sh->url;
    o.store_timeout_ms = SLOW_TIMEOUT_MS;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK) {
        snprintf(sh->error, sizeof sh->error, "qk_tracker_new: %s", qk_errmsg());
        return 1;
    }
    for (int i = 0; i < SLOW_CONSUMES; i++)
        sh->rc[i] = qk_try_consume(t, 0, 1, 0, NULL);
    qk_usage u;
    if (qk_peek(t, 0, &u) == QK_OK)
        sh->counted = u.windows[0].used;
    qk_tracker_free(t);
    return 0;
}

static void kill_noted(void *ctx, unsigned i)
{
    (void)i;
    slow_shared *sh = ctx;
    snprintf(sh->error, sizeof sh->error, "killed: past %d s", RUN_LIMIT_S);
}

static void slow_answers_grant_nothing_usable(const qkt_server *redis)
{
    slow_shared *sh = qkt_shared_mem(sizeof *sh);
    qkp_config cfg = qkp_run_config(redis->port, 1, 100, SLOW_TIMEOUT_MS);
    cfg.only = QKP_SLOW_REPLY;
    cfg.long_pct = 100;
    cfg.long_delay_ms = 1400; /* each reply held 700-1,400 ms */
    char err[256];
    qkp_proxy *p = NULL;
    QKT_REQUIRE(qkp_open(&p, &cfg, err, sizeof err) == 0, "proxy: %s", err);
    snprintf(sh->url, sizeof sh->url, "redis://127.0.0.1:%d", qkp_port(p));
    const pid_t pid = qkt_fork_run(slow_host, sh, RUN_LIMIT_S + 10);
    int status;
    qkp_drive_hosts(p, &pid, &status, 1, RUN_LIMIT_S, NULL, kill_noted, sh);
    qkp_stats ps;
    qkp_get_stats(p, &ps);
    qkp_close(p);
    CHECK(status == 0, "the slow host exited %d: %s", status, sh->error);
    CHECK(ps.fates[QKP_SLOW_REPLY] > 0, "no reply was slowed");
    for (int i = 0; i < SLOW_CONSUMES; i++)
        CHECK(sh->rc[i] == QK_EUNAVAIL, "slow answers: consume %d gave %s, not QK_EUNAVAIL", i + 1,
              qk_err_name(sh->rc[i]));
    CHECK(sh->counted == 0, "slow answers: %llu calls counted", (unsigned long long)sh->counted);
    printf("slow answers: %d consumes, each QK_EUNAVAIL, nothing counted (%llu replies slowed)\n",
           SLOW_CONSUMES, (unsigned long long)ps.fates[QKP_SLOW_REPLY]);
}

int main(int argc, char **argv)
{
    uint64_t first = 1, runs = 8;
    bool verbose = false;
    if (qkp_parse_runs(argc, argv, &first, &runs, &verbose, NULL) != 0)
        return 2;
    qkt_server redis;
    QKT_REQUIRE(qkt_server_start(&redis, QKT_REDIS, NULL) == 0, "%s", redis.error);
    slow_answers_grant_nothing_usable(&redis);
    run_shared *shared = qkt_shared_mem(sizeof *shared + LOG_CAP * sizeof(qkt_grant));
    unsigned failed = 0;
    for (uint64_t s = first; s < first + runs; s++)
        failed += !run_one(s, &redis, shared, verbose);
    printf("%llu rolling runs (seeds %llu..%llu), %u failed\n", (unsigned long long)runs,
           (unsigned long long)first, (unsigned long long)(first + runs - 1), failed);
    qkt_server_stop(&redis);
    return qkt_verdict("proxy_rolling");
}
