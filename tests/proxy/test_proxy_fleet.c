/* The seeded fault runs (issue 8, "Tests"; docs/testing.md, "proxy"): hosts share one quota
 * through the fault proxy (proxy.h), and whatever the proxy does to their requests and
 * replies, the fleet admits at most the limit L and the store ends with U equal to the sum of
 * what every host used.
 *
 * Each run: a fresh service on one redis-server, K = 2 or 3 host processes (forked: each its
 * own tracker, host id, sync thread and connections, as real hosts), a limit L of 12..60, a
 * lease_max of adaptive, 1, 3 or 8, a 50 ms store timeout and the QK_OUTAGE_CLOSED policy (the
 * only one that promises never to pass L while the store is out; SAFE and OPEN bound the
 * overshoot instead, which other tests measure). Every host consumes one call at a time until
 * refused with QK_ELIMIT; a QK_EUNAVAIL refusal is followed by a qk_store_sync, which is how a
 * caller probes the store (a degraded tracker only probes from its thread once a second). When
 * every host is refused the proxy turns calm, each host syncs until the store has its counts,
 * and frees its tracker. Then, with nothing left in flight (late duplicates landed), the store's
 * hash must hold: U = sum of consumes, each host's u - r = its consumes, G <= L.
 *
 * The seed drives the run's parameters and the proxy's schedule of faults (which request of
 * which connection meets which fault); the scheduler still picks the interleaving, so a replay
 * draws the same faults, not the same timing. A failing run prints its seed; replay it with
 *   qk_proxy_fleet --seed N [-v]
 * Processes rather than threads: a fork costs about a millisecond, far below a run's time, and
 * hosts as processes cannot share anything the store is meant to carry.
 *
 * Some runs' hosts also call qk_store_sync every 2 or 5 consumes, as a Lambda handler does before
 * it returns: the give-back of unused lease then races the sync thread's grants.
 *
 * Usage: qk_proxy_fleet [--runs N (100)] [--first SEED (1)] [--seed SEED] [-v] [--no-probe]
 * --no-probe: after QK_EUNAVAIL a host waits 2 ms instead of syncing, so only the tracker's own
 * thread can end a degraded state (slow: it probes once a second). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "fail.h"
#include "procs.h"
#include "proxy.h"
#include "proxy_runs.h"
#include "quotakeeper.h"
#include "servers.h"

enum {
    MAX_HOSTS = 3,
    STORE_TIMEOUT_MS = 50,
    CONSUME_LIMIT_S = 20, /* a host still consuming after this is stuck */
    RUN_LIMIT_S = 40,
    DRAIN_MS = 2000,
};

typedef struct {
    _Atomic int phase; /* 0 consuming, 1 refused (done), 2 synced and freed */
    uint64_t consumed, unavailable, final_syncs;
    char host_id[33];
    char error[256]; /* set by a host that broke */
} host_report;

typedef struct {
    _Atomic int calm; /* the proxy lets everything pass: time for the last syncs */
    host_report host[MAX_HOSTS];
} run_shared;

typedef struct {
    uint64_t seed;
    unsigned hosts;
    uint64_t limit, lease_max;
    unsigned fault_pct;
    unsigned sync_every; /* a host calls qk_store_sync after every this many consumes; 0 never */
    bool probe;          /* a QK_EUNAVAIL refusal is followed by qk_store_sync */
    char service[32];
    char url[64];
    run_shared *shared;
    unsigned index; /* of this host */
} run_plan;

/* ---- a host: its own process ---- */

__attribute__((format(printf, 2, 3))) static int host_fail(host_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return 1;
}

static int host_main(void *arg)
{
    const run_plan *plan = arg;
    host_report *r = &plan->shared->host[plan->index];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    qk_service_def def = {.name = plan->service,
                          .windows = {{QK_FOREVER, plan->limit}},
                          .outage = QK_OUTAGE_CLOSED,
                          .lease_max = plan->lease_max};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &def;
    o.n_services = 1;
    o.store = plan->url;
    o.store_timeout_ms = STORE_TIMEOUT_MS;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return host_fail(r, "qk_tracker_new: %s", qk_errmsg());

    const int64_t until = qkt_mono_ms() + CONSUME_LIMIT_S * 1000;
    for (;;) {
        const int rc = qk_try_consume(t, 0, 1, 0, NULL);
        if (rc == QK_OK) {
            r->consumed++;
            if (plan->sync_every != 0 && r->consumed % plan->sync_every == 0)
                (void)qk_store_sync(t); /* a Lambda handler's end */
        } else if (rc == QK_ELIMIT) {
            break;
        } else if (rc == QK_EUNAVAIL) {
            r->unavailable++;
            if (plan->probe)
                (void)qk_store_sync(t); /* a probe: its successes end the degraded state */
            else
                qkp_sleep_ms(2);
        } else {
            return host_fail(r, "qk_try_consume: %s (%s)", qk_err_name(rc), qk_errmsg());
        }
        if (qkt_mono_ms() > until)
            return host_fail(r, "still consuming after %d s (%llu consumed)", CONSUME_LIMIT_S,
                             (unsigned long long)r->consumed);
    }
    atomic_store(&r->phase, 1);
    while (!atomic_load(&plan->shared->calm))
        qkp_sleep_ms(1);

    /* The fault-free path: a sync that fails now met a connection cut before the calm. */
    int rc = QK_EUNAVAIL;
    while (rc != QK_OK && r->final_syncs < 100) {
        r->final_syncs++;
        rc = qk_store_sync(t);
    }
    if (rc != QK_OK)
        return host_fail(r, "qk_store_sync after the calm: %s (%s)", qk_err_name(rc), qk_errmsg());
    qk_store_service_info si;
    qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = &si, .cap = 1};
    if (qk_store_status(t, &info) != QK_OK)
        return host_fail(r, "qk_store_status: %s", qk_errmsg());
    memcpy(r->host_id, info.host_id, sizeof r->host_id);
    if (si.windows[0].unsynced != 0 || si.windows[0].held != 0)
        return host_fail(r, "after a successful sync: %llu unsynced, %llu held",
                         (unsigned long long)si.windows[0].unsynced,
                         (unsigned long long)si.windows[0].held);
    qk_tracker_free(t);
    atomic_store(&r->phase, 2);
    return 0;
}

/* ---- the store's side, read directly ---- */

typedef struct {
    int found;
    uint64_t limit, granted, used;
    uint64_t used_by[MAX_HOSTS], refunded_by[MAX_HOSTS];
    char error[256];
} store_view;

static uint64_t field(const redisReply *h, const char *name, int *present)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (strcmp(h->element[i]->str, name) == 0) {
            *present = 1;
            return strtoull(h->element[i + 1]->str, NULL, 10);
        }
    *present = 0;
    return 0;
}

static void read_store(int port, const run_plan *plan, store_view *v)
{
    memset(v, 0, sizeof *v);
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err) {
        snprintf(v->error, sizeof v->error, "redis: %s", c ? c->errstr : "no memory");
        redisFree(c);
        return;
    }
    redisReply *keys = redisCommand(c, "KEYS qk:{%s}:*[0-9]", plan->service); /* the hash */
    if (keys == NULL || keys->type != REDIS_REPLY_ARRAY || keys->elements != 1) {
        snprintf(v->error, sizeof v->error, "KEYS qk:{%s}:*[0-9]: %zu keys, wanted 1",
                 plan->service, keys && keys->type == REDIS_REPLY_ARRAY ? keys->elements : 0);
        freeReplyObject(keys);
        redisFree(c);
        return;
    }
    redisReply *h = redisCommand(c, "HGETALL %s", keys->element[0]->str);
    if (h != NULL && h->type == REDIS_REPLY_ARRAY) {
        int present;
        v->found = 1;
        v->limit = field(h, "L", &present);
        v->granted = field(h, "G", &present);
        v->used = field(h, "U", &present);
        for (unsigned i = 0; i < plan->hosts; i++) {
            char name[48];
            const char *id = plan->shared->host[i].host_id;
            snprintf(name, sizeof name, "u:%s", id);
            v->used_by[i] = field(h, name, &present);
            if (present) {
                snprintf(name, sizeof name, "r:%s", id);
                v->refunded_by[i] = field(h, name, &present);
                continue;
            }
            /* A host whose last word retired it: its totals are in the window's :gone hash,
             * "g x u r q" (src/store/merge.lua). */
            redisReply *rec = redisCommand(c, "HGET %s:gone %s", keys->element[0]->str, id);
            unsigned long long g, x, u, r;
            if (rec == NULL || rec->type != REDIS_REPLY_STRING ||
                sscanf(rec->str, "%llu %llu %llu %llu", &g, &x, &u, &r) != 4)
                snprintf(v->error, sizeof v->error, "host %s neither live nor retired", id);
            else {
                v->used_by[i] = u;
                v->refunded_by[i] = r;
            }
            freeReplyObject(rec);
        }
    } else {
        snprintf(v->error, sizeof v->error, "HGETALL failed");
    }
    freeReplyObject(h);
    freeReplyObject(keys);
    redisFree(c);
}

/* ---- one run ---- */

typedef struct {
    uint64_t runs, failed, stranded_runs, stranded_calls;
    qkp_stats proxy;
} totals;

static void plan_run(run_plan *plan, uint64_t seed, bool probe, run_shared *shared)
{
    const uint64_t r = qkp_mix(seed);
    memset(plan, 0, sizeof *plan);
    plan->seed = seed;
    plan->hosts = 2 + (unsigned)(r % 2);
    plan->limit = 12 + (r >> 8) % 49;
    static const uint64_t lease_max[] = {0, 1, 3, 8};
    plan->lease_max = lease_max[(r >> 16) % 4];
    plan->fault_pct = 15 + (unsigned)((r >> 24) % 16);
    static const unsigned sync_every[] = {0, 0, 2, 5};
    plan->sync_every = sync_every[(r >> 32) % 4];
    plan->probe = probe;
    snprintf(plan->service, sizeof plan->service, "px%llu", (unsigned long long)seed);
    plan->shared = shared;
}

/* A round of the run: once every host is refused (or gone), the proxy turns calm for the hosts'
 * last syncs. */
typedef struct {
    const run_plan *plan;
    qkp_proxy *p;
    bool calm;
} fleet_round;

static void turn_calm(void *ctx, const int *status)
{
    fleet_round *r = ctx;
    unsigned refused = 0;
    for (unsigned i = 0; i < r->plan->hosts; i++)
        refused += atomic_load(&r->plan->shared->host[i].phase) >= 1 || status[i] >= 0;
    if (!r->calm && refused == r->plan->hosts) {
        qkp_calm(r->p);
        atomic_store(&r->plan->shared->calm, 1);
        r->calm = true;
    }
}

static void mark_killed(void *ctx, unsigned i)
{
    const fleet_round *r = ctx;
    host_report *h = &r->plan->shared->host[i];
    snprintf(h->error, sizeof h->error, "killed: the run passed %d s", RUN_LIMIT_S);
}

static bool run_one(uint64_t seed, const qkt_server *redis, run_shared *shared, bool probe,
                    bool verbose, totals *tot)
{
    run_plan plan;
    plan_run(&plan, seed, probe, shared);
    memset(shared, 0, sizeof *shared);
    const int64_t t0 = qkt_mono_ms();
    char err[256];
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
    fleet_round r = {&plan, p, false};
    qkp_drive_hosts(p, pid, status, plan.hosts, RUN_LIMIT_S, turn_calm, mark_killed, &r);
    bool ok = true;
    /* Late duplicates and delayed requests land before the store is read. */
    const int64_t drain_until = qkt_mono_ms() + DRAIN_MS;
    while (!qkp_idle(p) && qkt_mono_ms() < drain_until)
        QKT_REQUIRE(qkp_step(p, 5, err, sizeof err) == 0, "proxy: %s", err);
    const bool drained = qkp_idle(p);
    qkp_stats ps;
    qkp_get_stats(p, &ps);
    qkp_close(p);

    uint64_t admitted = 0;
    char why[1024] = "";
    size_t wl = 0;
#define WHY(...)                                                                                   \
    do {                                                                                           \
        ok = false;                                                                                \
        if (wl < sizeof why)                                                                       \
            wl += (size_t)snprintf(why + wl, sizeof why - wl, __VA_ARGS__);                        \
    } while (0)
    for (unsigned i = 0; i < plan.hosts; i++) {
        admitted += shared->host[i].consumed;
        if (status[i] != 0)
            WHY(" host %u exited %d: %s;", i, status[i],
                shared->host[i].error[0] ? shared->host[i].error : "(no report)");
    }
    if (!drained)
        WHY(" the proxy still had requests in flight %d ms after the hosts ended;", DRAIN_MS);
    store_view v;
    if (ok)
        read_store(redis->port, &plan, &v);
    if (ok && v.error[0] != '\0')
        WHY(" store: %s;", v.error);
    if (ok) {
        if (admitted > plan.limit)
            WHY(" admitted %llu > L %llu;", (unsigned long long)admitted,
                (unsigned long long)plan.limit);
        if (v.used != admitted)
            WHY(" store U %llu != %llu consumed;", (unsigned long long)v.used,
                (unsigned long long)admitted);
        if (v.granted > plan.limit || v.limit != plan.limit)
            WHY(" store G %llu, L %llu (limit %llu);", (unsigned long long)v.granted,
                (unsigned long long)v.limit, (unsigned long long)plan.limit);
        for (unsigned i = 0; i < plan.hosts; i++)
            if (v.used_by[i] - v.refunded_by[i] != shared->host[i].consumed)
                WHY(" host %u: store u-r %llu != %llu consumed;", i,
                    (unsigned long long)(v.used_by[i] - v.refunded_by[i]),
                    (unsigned long long)shared->host[i].consumed);
        if (v.granted > v.used) { /* reported, not failed: see docs/testing.md, "proxy" */
            tot->stranded_runs++;
            tot->stranded_calls += v.granted - v.used;
        }
    }
#undef WHY
    tot->runs++;
    for (int f = 0; f < QKP_N_FATES; f++)
        tot->proxy.fates[f] += ps.fates[f];
    tot->proxy.requests += ps.requests;
    tot->proxy.connections += ps.connections;
    tot->proxy.duplicates_landed += ps.duplicates_landed;
    if (verbose || !ok) {
        printf("seed %llu: %u hosts, L %llu, lease_max %llu, faults %u%%: admitted %llu",
               (unsigned long long)seed, plan.hosts, (unsigned long long)plan.limit,
               (unsigned long long)plan.lease_max, plan.fault_pct, (unsigned long long)admitted);
        if (ok)
            printf(", store U %llu G %llu", (unsigned long long)v.used,
                   (unsigned long long)v.granted);
        printf("; %llu requests on %llu connections:", (unsigned long long)ps.requests,
               (unsigned long long)ps.connections);
        for (int f = 1; f < QKP_N_FATES; f++)
            printf(" %s %llu", qkp_fate_names[f], (unsigned long long)ps.fates[f]);
        printf("; %.2f s\n", (double)(qkt_mono_ms() - t0) / 1000.0);
    }
    if (!ok) {
        tot->failed++;
        qkp_run_failed("qk_proxy_fleet", seed, why);
    }
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    uint64_t first = 1, runs = 100;
    bool verbose = false, no_probe = false;
    const qkp_extra_flag extra[] = {{"--no-probe", &no_probe}, {NULL, NULL}};
    if (qkp_parse_runs(argc, argv, &first, &runs, &verbose, extra) != 0)
        return 2;
    const bool probe = !no_probe;
    qkt_server redis;
    QKT_REQUIRE(qkt_server_start(&redis, QKT_REDIS, NULL) == 0, "%s", redis.error);
    run_shared *shared = qkt_shared_mem(sizeof *shared);
    totals tot = {0};
    const int64_t t0 = qkt_mono_ms();
    for (uint64_t s = first; s < first + runs; s++)
        run_one(s, &redis, shared, probe, verbose, &tot);
    printf("%llu runs (seeds %llu..%llu) in %.1f s, %llu failed; %llu requests on %llu "
           "connections through the proxy:",
           (unsigned long long)tot.runs, (unsigned long long)first,
           (unsigned long long)(first + runs - 1), (double)(qkt_mono_ms() - t0) / 1000.0,
           (unsigned long long)tot.failed, (unsigned long long)tot.proxy.requests,
           (unsigned long long)tot.proxy.connections);
    for (int f = 1; f < QKP_N_FATES; f++)
        printf(" %s %llu", qkp_fate_names[f], (unsigned long long)tot.proxy.fates[f]);
    printf("; %llu duplicates landed; %llu runs ended with G > U (%llu calls granted and "
           "never used: stranded, not lost)\n",
           (unsigned long long)tot.proxy.duplicates_landed, (unsigned long long)tot.stranded_runs,
           (unsigned long long)tot.stranded_calls);
    qkt_server_stop(&redis);
    return qkt_verdict("proxy_fleet");
}
