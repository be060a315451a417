/* lua-per-call: the exact per-call peer. Every consume is one EVALSHA of a small script that
 * reads the service's counter, refuses if the call would pass the limit, else INCRBYs it and
 * renews its expiry: exact to the last call and one round trip each, which is what a fleet
 * pays when every host asks Redis before every call. Records are an INCRBY, refunds a DECRBY,
 * snapshots one MGET (Redis runs each command alone, so the cut is consistent). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "redis_conns.h"
#include "redis_keys.h"
#include "redis_server.h"

/* KEYS[1] the counter; ARGV: calls, limit, expiry in ms. The new count, or -1 when refused. */
static const char SCRIPT[] = "local v = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                             "local n = tonumber(ARGV[1])\n"
                             "if v + n > tonumber(ARGV[2]) then return -1 end\n"
                             "v = redis.call('INCRBY', KEYS[1], n)\n"
                             "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
                             "return v\n";

typedef struct {
    perf_redis_pool pool;
    uint32_t n;
    char (*keys)[PERF_KEY_MAX];
    char (*limits)[24];
    char sha[41];
} lua_state;

static void *adapter_create(const perf_setup *setup)
{
    char err[256];
    if (perf_redis_start(err, sizeof err) != 0)
        perf_die("%s", err);
    lua_state *st = perf_alloc(sizeof *st);
    perf_redis_pool_init(&st->pool);
    st->n = setup->n_services;
    st->keys = calloc(st->n, sizeof *st->keys);
    st->limits = calloc(st->n, sizeof *st->limits);
    if (st->keys == NULL || st->limits == NULL)
        perf_die("no memory for %u services", st->n);
    perf_redis_keys(st->keys, st->n, "lua");
    for (uint32_t s = 0; s < st->n; s++)
        snprintf(st->limits[s], sizeof st->limits[s], "%llu", (unsigned long long)setup->limits[s]);
    redisContext *c = perf_redis_take(&st->pool);
    redisReply *r = perf_redis_do(&st->pool, c, "SCRIPT LOAD %s", SCRIPT);
    if (r->type != REDIS_REPLY_STRING || r->len != 40)
        perf_die("redis SCRIPT LOAD: odd reply");
    memcpy(st->sha, r->str, 41);
    freeReplyObject(r);
    perf_redis_give(&st->pool, c);
    atomic_store(&st->pool.round_trips, 0);
    return st;
}

static void adapter_destroy(void *state)
{
    lua_state *st = state;
    perf_redis_delete(&st->pool, st->keys, st->n);
    perf_redis_pool_destroy(&st->pool);
    free(st->keys);
    free(st->limits);
    free(st);
}

static long long integer(redisReply *r)
{
    if (r->type != REDIS_REPLY_INTEGER)
        perf_die("redis: a reply that is not an integer");
    const long long v = r->integer;
    freeReplyObject(r);
    return v;
}

QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    lua_state *st = state;
    redisContext *c = perf_redis_take(&st->pool);
    integer(perf_redis_do(&st->pool, c, "INCRBY %s 1", st->keys[s]));
    perf_redis_give(&st->pool, c);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    lua_state *st = state;
    redisContext *c = perf_redis_take(&st->pool);
    const long long v = integer(perf_redis_do(&st->pool, c, "EVALSHA %s 1 %s 1 %s %d", st->sha,
                                              st->keys[s], st->limits[s], PERF_KEY_TTL_MS));
    perf_redis_give(&st->pool, c);
    return v >= 0;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    lua_state *st = state;
    redisContext *c = perf_redis_take(&st->pool);
    integer(perf_redis_do(&st->pool, c, "DECRBY %s 1", st->keys[s]));
    perf_redis_give(&st->pool, c);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    lua_state *st = state;
    perf_redis_counts(&st->pool, st->keys, st->n, used);
}

static uint64_t adapter_store_ops(void *state)
{
    lua_state *st = state;
    return atomic_load(&st->pool.round_trips);
}

#define ADAPTER_STORE_OPS
#define ADAPTER_SYMBOL perf_adapter_lua_per_call
#include "strategy_template.h"
