/* fleet_hammer: hosts (forked processes, each its own tracker on one real redis-server) whose
 * threads hammer consume, record, refund, peek, snapshot, qk_store_sync and qk_store_status on
 * two services while each host's sync thread runs, then free; the store must hold exactly what
 * they did.
 *
 * Usage: fleet_hammer [hosts [threads [ops per thread]]] (also QK_FLEET_HOSTS, QK_FLEET_THREADS,
 * QK_FLEET_OPS). Exit 0: every invariant held; 1: one did not; 2: it could not run.
 *
 * A third service, a rolling second ("roll"), is consumed and refunded too: every answer is one a
 * consume may give and a peek never shows past its limit, and under ThreadSanitizer its pieces'
 * moves, give-backs and merges race the other threads as the fixed windows' do.
 *
 * Invariants (exact), per fixed-window service, in the store after every host freed its tracker:
 * U == the sum over hosts of (consumed + recorded - refunded); per host u == consumed +
 * recorded and r == refunded; G == U (every lease given back); on "tight" (consumes and refunds
 * only, limit 400) U <= 400. Each thread refunds only calls it consumed and has not refunded, so
 * every refund counts whole. A peek of "tight" never shows more than its limit: a host's syncs
 * of one service run one at a time, so their answers merge in the order the store applied them.
 *
 * Interleavings it catches: a consume, record or refund landing between the sync thread's
 * request (copied under the slot lock) and its merge (taken under it again): a merge that
 * overwrote the host's counters with the request's copy instead of taking the larger loses
 * them (u short of what was done); a release that lowered the grant while a consume used it
 * (u > g at a sync: an overdraft that is not one, G != U at the end); a qk_store_sync racing the
 * sync thread on the same service (two merges in the wrong order: a peek past the limit); a
 * snapshot holding every slot lock while a sync waits for one (the lock-order checker, or a
 * deadlock the ctest timeout ends). Under ThreadSanitizer (tests/run.sh tsan): any access to
 * a lease or the engine's state outside its lock; under ASan, the sync path's buffers. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "procs.h"
#include "program.h"
#include "servers.h"

enum { MAX_HOSTS = 8, MAX_THREADS = 16, TIGHT = 0, WIDE = 1, ROLL = 2, N_SVC = 3, N_COUNTED = 2 };
#define TIGHT_LIMIT 400
#define ROLL_LIMIT  300

typedef struct {
    uint64_t consumed[N_SVC], recorded[N_SVC], refunded[N_SVC];
} tally;

typedef struct {
    char url[64];
    long threads, ops;
    qkt_pbarrier go;
    tally host[MAX_HOSTS];
    char host_id[MAX_HOSTS][40];
    int ran[MAX_HOSTS];
} shared;

static shared *S;

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *start;
    uint64_t seed;
    tally mine;
} worker;

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *work(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    qk_usage u, snap[N_SVC];
    for (long i = 0; i < S->ops; i++) {
        const uint64_t r = next(&w->seed);
        const qk_service s = (qk_service)(r >> 8) % N_SVC;
        const uint64_t n = 1 + (r >> 16) % 3;
        const uint64_t outstanding =
            w->mine.consumed[s] + w->mine.recorded[s] - w->mine.refunded[s];
        switch (r % 16) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5: { /* consume */
            const int rc = qk_try_consume(w->t, s, n, 0, &u);
            if (rc == QK_OK)
                w->mine.consumed[s] += n;
            else
                CHECK(rc == QK_ELIMIT, "consume: %s: %s", qk_err_name(rc), qk_errmsg());
            break;
        }
        case 6:
        case 7: /* record: a fact, never on the tight service */
            if (s == WIDE) {
                CHECK_RC(qk_record(w->t, s, n, NULL), QK_OK);
                w->mine.recorded[s] += n;
            }
            break;
        case 8:
        case 9:
        case 10: /* refund what this thread used */
            if (outstanding >= n) {
                CHECK_RC(qk_refund(w->t, s, n), QK_OK);
                w->mine.refunded[s] += n;
            }
            break;
        case 11:
        case 12:
            CHECK_RC(qk_peek(w->t, s, &u), QK_OK);
            /* The fleet as this host sees it: the store's U at its last sync plus its own use
             * since, never more than the fleet really used, so never past the limit. */
            CHECK(s != 0 || u.windows[0].used <= TIGHT_LIMIT, "tight: a peek shows %llu of %d",
                  (unsigned long long)u.windows[0].used, TIGHT_LIMIT);
            /* The rolling second: this host's own count (docs/store.md), never past it. */
            CHECK(s != ROLL || u.windows[0].used <= ROLL_LIMIT, "roll: a peek shows %llu of %d",
                  (unsigned long long)u.windows[0].used, ROLL_LIMIT);
            break;
        case 13:
        case 14: {
            size_t count = 0;
            CHECK_RC(qk_snapshot(w->t, snap, N_SVC, &count), QK_OK);
            CHECK(count == N_SVC, "a snapshot of %zu services", count);
            break;
        }
        default:
            if ((r >> 32) % 64 == 0) {
                CHECK_RC(qk_store_sync(w->t), QK_OK);
            } else {
                qk_store_info in = {.version = QK_STORE_INFO_VERSION};
                CHECK_RC(qk_store_status(w->t, &in), QK_OK);
                CHECK(!in.degraded, "degraded: %s", in.last_error);
            }
            break;
        }
    }
    return NULL;
}

static int host_main(void *arg)
{
    const int h = (int)(intptr_t)arg;
    const qk_service_def d[N_SVC] = {
        {.name = "tight", .windows = {{QK_FOREVER, TIGHT_LIMIT}}},
        {.name = "wide", .windows = {{QK_FOREVER, UINT64_C(1000000000)}}, .lease_max = 50},
        {.name = "roll", .windows = {{QK_SECOND, ROLL_LIMIT, .flags = QK_WINDOW_ROLLING}}}};
    qk_options o = QK_OPTIONS_INIT;
    o.services = d;
    o.n_services = N_SVC;
    o.store = S->url;
    o.store_timeout_ms = 5000; /* not a fault test: a sync must not fail on a busy machine */
    qk_tracker *t = NULL;
    QKT_REQUIRE(qk_tracker_new(&t, &o) == QK_OK, "qk_tracker_new: %s", qk_errmsg());
    qk_store_info in = {.version = QK_STORE_INFO_VERSION};
    QKT_REQUIRE(qk_store_status(t, &in) == QK_OK, "qk_store_status: %s", qk_errmsg());
    memcpy(S->host_id[h], in.host_id, sizeof in.host_id);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)S->threads);
    worker *w = qkt_calloc((size_t)S->threads, sizeof *w);
    pthread_t *th = qkt_calloc((size_t)S->threads, sizeof *th);
    qkt_pbarrier_wait(&S->go);
    for (long i = 0; i < S->threads; i++) {
        w[i].t = t;
        w[i].start = &start;
        w[i].seed = 0x9e3779b97f4a7c15ull * (uint64_t)(h * MAX_THREADS + i + 1);
        QKT_REQUIRE(pthread_create(&th[i], NULL, work, &w[i]) == 0, "pthread_create");
    }
    for (long i = 0; i < S->threads; i++) {
        pthread_join(th[i], NULL);
        for (int s = 0; s < N_SVC; s++) {
            S->host[h].consumed[s] += w[i].mine.consumed[s];
            S->host[h].recorded[s] += w[i].mine.recorded[s];
            S->host[h].refunded[s] += w[i].mine.refunded[s];
        }
    }
    qk_tracker_free(t); /* the last counts, and every unused lease back */
    pthread_barrier_destroy(&start);
    free(w);
    free(th);
    S->ran[h] = 1;
    return qkt_failures() == 0 ? QKT_CHILD_OK : 1;
}

static uint64_t field(redisContext *c, const char *key, const char *f, const char *host)
{
    char name[64];
    if (host != NULL)
        snprintf(name, sizeof name, "%s:%s", f, host);
    else
        snprintf(name, sizeof name, "%s", f);
    redisReply *r = redisCommand(c, "HGET %s %s", key, name);
    QKT_REQUIRE(r != NULL, "HGET %s %s: %s", key, name, c->errstr);
    uint64_t v = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
    const int live = r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    if (live || host == NULL)
        return v;
    /* A host whose last word retired it: "g x u r q" in the window's :gone hash (merge.lua). */
    r = redisCommand(c, "HGET %s:gone %s", key, host);
    QKT_REQUIRE(r != NULL, "HGET %s:gone %s: %s", key, host, c->errstr);
    unsigned long long rec[5];
    const char *order = "gxurq", *at = strchr(order, f[0]);
    if (r->type == REDIS_REPLY_STRING && at != NULL && f[1] == '\0' &&
        sscanf(r->str, "%llu %llu %llu %llu %llu", &rec[0], &rec[1], &rec[2], &rec[3], &rec[4]) ==
            5)
        v = rec[at - order];
    freeReplyObject(r);
    return v;
}

int main(int argc, char **argv)
{
    const long hosts = qkt_param(argc, argv, 1, "QK_FLEET_HOSTS", 2);
    S = qkt_shared_mem(sizeof *S);
    S->threads = qkt_param(argc, argv, 2, "QK_FLEET_THREADS", 4);
    S->ops = qkt_param(argc, argv, 3, "QK_FLEET_OPS", 20000);
    QKT_REQUIRE(hosts >= 1 && hosts <= MAX_HOSTS && S->threads >= 1 && S->threads <= MAX_THREADS &&
                    S->ops >= 1,
                "sizes: 1..%d hosts, 1..%d threads", MAX_HOSTS, MAX_THREADS);
    qkt_server srv;
    QKT_REQUIRE(qkt_server_start(&srv, QKT_REDIS, NULL) == 0, "%s", srv.error);
    snprintf(S->url, sizeof S->url, "redis://127.0.0.1:%d", srv.port);
    printf("fleet_hammer: %ld hosts x %ld threads x %ld ops on %s\n", hosts, S->threads, S->ops,
           S->url);

    qkt_pbarrier_init(&S->go);
    pid_t pid[MAX_HOSTS];
    for (long h = 0; h < hosts; h++)
        pid[h] = qkt_fork_run(host_main, (void *)(intptr_t)h, 150);
    qkt_pbarrier_release(&S->go);
    for (long h = 0; h < hosts; h++) {
        const int st = qkt_wait_child(pid[h]);
        CHECK(st == QKT_CHILD_OK, "host %ld: %s %d", h, st >= 1000 ? "signal" : "exit", st % 1000);
    }

    const struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    QKT_REQUIRE(c != NULL && c->err == 0, "connect: %s", c ? c->errstr : "no memory");
    /* The rolling second's pieces are kept only a horizon past their end (docs/store.md), so its
     * totals are not in the store by now: it is here for what its syncs race. */
    static const char *const names[N_COUNTED] = {"tight", "wide"};
    for (int s = 0; s < N_COUNTED; s++) {
        char key[96];
        snprintf(key, sizeof key, "qk:{%s}:f:%lld", names[s], (long long)INT64_MIN);
        uint64_t net = 0;
        for (long h = 0; h < hosts; h++) {
            const tally *t = &S->host[h];
            if (!S->ran[h])
                continue;
            const uint64_t used = t->consumed[s] + t->recorded[s];
            net += used - t->refunded[s];
            CHECK(field(c, key, "u", S->host_id[h]) == used, "%s: host %ld u %llu, it used %llu",
                  names[s], h, (unsigned long long)field(c, key, "u", S->host_id[h]),
                  (unsigned long long)used);
            CHECK(field(c, key, "r", S->host_id[h]) == t->refunded[s],
                  "%s: host %ld r %llu, it refunded %llu", names[s], h,
                  (unsigned long long)field(c, key, "r", S->host_id[h]),
                  (unsigned long long)t->refunded[s]);
            printf("  %s host %ld: consumed %llu recorded %llu refunded %llu\n", names[s], h,
                   (unsigned long long)t->consumed[s], (unsigned long long)t->recorded[s],
                   (unsigned long long)t->refunded[s]);
        }
        const uint64_t U = field(c, key, "U", NULL), G = field(c, key, "G", NULL);
        CHECK(U == net, "%s: U %llu, the hosts' net use %llu", names[s], (unsigned long long)U,
              (unsigned long long)net);
        CHECK(G == U, "%s: G %llu != U %llu: a lease was not given back", names[s],
              (unsigned long long)G, (unsigned long long)U);
        if (s == TIGHT)
            CHECK(U <= TIGHT_LIMIT, "tight: U %llu past its limit", (unsigned long long)U);
    }
    redisFree(c);
    qkt_server_stop(&srv);
    return qkt_verdict("fleet_hammer");
}
