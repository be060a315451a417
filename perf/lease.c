/* The lease experiment (lease.h). */
#include "lease.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "harness.h"
#include "workload.h"
#include "redis_server.h"

typedef struct {
    uint64_t granted, used;
} store_counts;

static store_counts read_store(const char *service)
{
    store_counts sc = {0, 0};
    redisContext *c = redisConnect("127.0.0.1", perf_redis_port());
    if (c == NULL || c->err)
        perf_die("redis: %s", c ? c->errstr : "no memory");
    redisReply *keys = redisCommand(c, "KEYS qk:{%s}:*[0-9]", service); /* the window's hash */
    if (keys == NULL || keys->type != REDIS_REPLY_ARRAY || keys->elements != 1)
        perf_die("lease experiment: no single key for %s in the store", service);
    redisReply *h = redisCommand(c, "HMGET %s G U", keys->element[0]->str);
    if (h == NULL || h->type != REDIS_REPLY_ARRAY || h->elements != 2)
        perf_die("lease experiment: HMGET G U: odd reply");
    sc.granted = h->element[0]->str ? strtoull(h->element[0]->str, NULL, 10) : 0;
    sc.used = h->element[1]->str ? strtoull(h->element[1]->str, NULL, 10) : 0;
    freeReplyObject(h);
    freeReplyObject(redisCommand(c, "DEL %s %s:seen %s:gone", keys->element[0]->str,
                                 keys->element[0]->str, keys->element[0]->str));
    freeReplyObject(keys);
    redisFree(c);
    return sc;
}

void lease_experiment(const options *o)
{
    char err[256];
    if (perf_redis_start(err, sizeof err) != 0) {
        fprintf(stderr, "qk_perf: lease experiment left out: %s\n", err);
        return;
    }
    FILE *out = fopen(o->lease_path, "w");
    if (out == NULL)
        perf_die("cannot write %s", o->lease_path);
    fputs("lease_max,consumes,seconds,store_ops,store_ops_per_consume,held,store_granted,"
          "store_used,unused\n",
          out);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", perf_redis_port());
    for (unsigned i = 0; i < o->lease_sizes.n; i++) {
        const unsigned lease_max = o->lease_sizes.v[i];
        char name[QK_NAME_MAX];
        snprintf(name, sizeof name, "p%ld.lease.%u.%u", (long)getpid(), i, lease_max);
        const qk_service_def def = {
            .name = name, .windows = {{QK_FOREVER, PERF_GRANT_LIMIT}}, .lease_max = lease_max};
        qk_options opts = QK_OPTIONS_INIT;
        opts.services = &def;
        opts.n_services = 1;
        opts.store = url;
        opts.store_timeout_ms = 1000;
        qk_tracker *t;
        if (qk_tracker_new(&t, &opts) != QK_OK)
            perf_die("qk_tracker_new: %s", qk_errmsg());
        const uint64_t t0 = perf_now_ns();
        for (unsigned k = 0; k < o->lease_consumes; k++)
            if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
                perf_die("lease experiment: consume %u refused: %s", k, qk_errmsg());
        const double seconds = (double)(perf_now_ns() - t0) / 1e9;
        /* The window ends here: what the host holds, and what the store has granted and seen
         * used once this host's use has reached it (a report, not a give-back). */
        qk_store_service_info si;
        qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = &si, .cap = 1};
        if (qk_store_status(t, &info) != QK_OK)
            perf_die("qk_store_status: %s", qk_errmsg());
        const uint64_t ops = info.syncs;
        /* The sync thread sends the last use within a second: wait for it, so that U is the
         * host's whole use. The lease stays (an idle one goes back only after 30 s), so G - U
         * is the unused lease as the store sees it; the store is read before the free gives
         * it back. */
        for (int waited = 0; waited < 3000; waited += 10) {
            if (qk_store_status(t, &info) != QK_OK)
                perf_die("qk_store_status: %s", qk_errmsg());
            if (si.windows[0].unsynced == 0)
                break;
            usleep(10000);
        }
        const uint64_t held = si.windows[0].held; /* with the last top-up merged */
        const store_counts sc = read_store(name);
        qk_tracker_free(t);
        const uint64_t unused = sc.granted > sc.used ? sc.granted - sc.used : 0;
        fprintf(out, "%u,%u,%.6f,%llu,%.6g,%llu,%llu,%llu,%llu\n", lease_max, o->lease_consumes,
                seconds, (unsigned long long)ops, (double)ops / o->lease_consumes,
                (unsigned long long)held, (unsigned long long)sc.granted,
                (unsigned long long)sc.used, (unsigned long long)unused);
        fprintf(stderr,
                "lease_max %u%s: %u consumes in %.3f s, %llu store operations, %llu held "
                "unused at the end (store: G %llu, U %llu)\n",
                lease_max, lease_max ? "" : " (adaptive)", o->lease_consumes, seconds,
                (unsigned long long)ops, (unsigned long long)held, (unsigned long long)sc.granted,
                (unsigned long long)sc.used);
    }
    if (fclose(out) != 0)
        perf_die("cannot write %s", o->lease_path);
}
