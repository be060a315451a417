/* leased: quotakeeper with a Redis store attached (perf/redis_server.h starts one) and a lease
 * in hand (perf/leased.h): a consume stays local while the sync thread reports use and tops the
 * lease up in the background, so it differs from `sharded` only by the store. Its store
 * operations are the tracker's syncs; destroy gives the lease back and deletes the keys. */
#include <hiredis/hiredis.h>
#include <stdio.h>

#include "leased.h"
#include "redis_server.h"

/* Generous: on a shared 2-core machine a loopback answer can take longer than the default
 * 100 ms, and a store that looks down would change what is measured. */
#define LEASED_STORE_TIMEOUT_MS 1000

static void *adapter_create(const perf_setup *setup)
{
    char err[256];
    if (perf_redis_start(err, sizeof err) != 0)
        perf_die("%s", err);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", perf_redis_port());
    perf_leased *l = perf_leased_open(setup, url, "p", LEASED_STORE_TIMEOUT_MS, 50000000u);
    l->ops_at_start = perf_leased_syncs(l);
    return l;
}

static void adapter_destroy(void *state)
{
    perf_leased *l = state;
    perf_leased_close_tracker(l);
    redisContext *c = redisConnect("127.0.0.1", perf_redis_port());
    for (uint32_t s = 0; c != NULL && c->err == 0 && s < l->n; s++) {
        redisReply *keys = redisCommand(c, "KEYS qk:{%s}:*", l->names[s]);
        for (size_t i = 0; keys != NULL && keys->type == REDIS_REPLY_ARRAY && i < keys->elements;
             i++)
            freeReplyObject(redisCommand(c, "DEL %s", keys->element[i]->str));
        freeReplyObject(keys);
    }
    redisFree(c);
    perf_leased_free(l);
}

static uint64_t adapter_store_ops(void *state)
{
    perf_leased *l = state;
    return perf_leased_syncs(l) - l->ops_at_start;
}

#include "leased_ops.h"
#define ADAPTER_STORE_OPS
#define ADAPTER_SYMBOL perf_adapter_leased
#include "strategy_template.h"
