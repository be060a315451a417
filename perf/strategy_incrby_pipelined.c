/* incrby-pipelined: the envoy-style peer (envoyproxy/ratelimit's fixed-window counter). Every
 * consume writes INCRBY and PEXPIRE together and reads both replies: one round trip, granted
 * while the new count is within the limit. Envoy leaves a refused attempt in the counter; here
 * a refused consume takes its count back with a DECRBY (a second round trip, only when
 * refused), so the counter is the calls granted and the validators can hold it to exactness.
 * Records are the same pipeline, refunds a DECRBY, snapshots one MGET. */
#include <stdlib.h>

#include "harness.h"
#include "redis_conns.h"
#include "redis_keys.h"
#include "redis_server.h"

typedef struct {
    perf_redis_pool pool;
    uint32_t n;
    char (*keys)[PERF_KEY_MAX];
    uint64_t *limits;
} incrby_state;

static void *adapter_create(const perf_setup *setup)
{
    char err[256];
    if (perf_redis_start(err, sizeof err) != 0)
        perf_die("%s", err);
    incrby_state *st = perf_alloc(sizeof *st);
    perf_redis_pool_init(&st->pool);
    st->n = setup->n_services;
    st->keys = calloc(st->n, sizeof *st->keys);
    st->limits = calloc(st->n, sizeof *st->limits);
    if (st->keys == NULL || st->limits == NULL)
        perf_die("no memory for %u services", st->n);
    for (uint32_t s = 0; s < st->n; s++)
        st->limits[s] = setup->limits[s];
    perf_redis_keys(st->keys, st->n, "incrby");
    return st;
}

static void adapter_destroy(void *state)
{
    incrby_state *st = state;
    perf_redis_delete(&st->pool, st->keys, st->n);
    perf_redis_pool_destroy(&st->pool);
    free(st->keys);
    free(st->limits);
    free(st);
}

/* INCRBY and PEXPIRE in one write, both replies in one read: the count after the increment. */
static long long incr_pipelined(incrby_state *st, redisContext *c, uint32_t s)
{
    redisAppendCommand(c, "INCRBY %s 1", st->keys[s]);
    redisAppendCommand(c, "PEXPIRE %s %d", st->keys[s], PERF_KEY_TTL_MS);
    redisReply *incr = NULL, *expire = NULL;
    if (redisGetReply(c, (void **)&incr) != REDIS_OK ||
        redisGetReply(c, (void **)&expire) != REDIS_OK)
        perf_die("redis: %s", c->errstr);
    atomic_fetch_add_explicit(&st->pool.round_trips, 1, memory_order_relaxed);
    if (incr->type != REDIS_REPLY_INTEGER || expire->type != REDIS_REPLY_INTEGER)
        perf_die("redis INCRBY/PEXPIRE: odd reply");
    const long long v = incr->integer;
    freeReplyObject(incr);
    freeReplyObject(expire);
    return v;
}

QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    incrby_state *st = state;
    redisContext *c = perf_redis_take(&st->pool);
    incr_pipelined(st, c, s);
    perf_redis_give(&st->pool, c);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    incrby_state *st = state;
    redisContext *c = perf_redis_take(&st->pool);
    const long long v = incr_pipelined(st, c, s);
    const bool granted = v >= 0 && (uint64_t)v <= st->limits[s];
    if (!granted)
        freeReplyObject(perf_redis_do(&st->pool, c, "DECRBY %s 1", st->keys[s]));
    perf_redis_give(&st->pool, c);
    return granted;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    incrby_state *st = state;
    redisContext *c = perf_redis_take(&st->pool);
    freeReplyObject(perf_redis_do(&st->pool, c, "DECRBY %s 1", st->keys[s]));
    perf_redis_give(&st->pool, c);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    incrby_state *st = state;
    perf_redis_counts(&st->pool, st->keys, st->n, used);
}

static uint64_t adapter_store_ops(void *state)
{
    incrby_state *st = state;
    return atomic_load(&st->pool.round_trips);
}

#define ADAPTER_STORE_OPS
#define ADAPTER_SYMBOL perf_adapter_incrby_pipelined
#include "strategy_template.h"
