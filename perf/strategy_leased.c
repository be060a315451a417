/* leased: quotakeeper with a Redis store attached (perf/redis_server.h starts one) and a lease
 * in hand: lease_max is large (LEASED_LEASE_MAX), so a consume stays local while the sync
 * thread reports use and tops the lease up in the background. The tracker is `sharded`'s (one
 * QK_FOREVER window per service, no callback) plus the store, so the two differ only by the
 * store (the calls are inlined wrappers of the library calls, as in `sharded`). Service names carry
 * the process and instance, so no run meets an earlier one's counts in the store; destroy gives the
 * lease back and deletes the keys. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "harness.h"
#include "redis_server.h"

#define LEASED_LEASE_MAX 10000000u
/* Generous: on a shared 2-core machine a loopback answer can take longer than the default
 * 100 ms, and a store that looks down would change what is measured. */
#define LEASED_STORE_TIMEOUT_MS 1000

typedef struct {
    qk_tracker *tracker;
    uint32_t n;
    qk_usage *usage;
    char (*names)[QK_NAME_MAX];
    uint64_t syncs_at_start;
} leased_state;

static uint64_t store_syncs(qk_tracker *t)
{
    qk_store_info info = {.version = QK_STORE_INFO_VERSION};
    if (qk_store_status(t, &info) != QK_OK)
        perf_die("qk_store_status: %s", qk_errmsg());
    return info.syncs;
}

/* Consumes and gives back until the sync thread's rate estimate has bought a lease worth
 * having (or 50 ms passed): the figures are about consumes with a lease in hand. */
static void warm_up(qk_tracker *t, uint32_t s, uint64_t limit)
{
    const uint64_t until = perf_now_ns() + 50000000u;
    qk_store_service_info si[PERF_MAX_SERVICES];
    qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = si, .cap = s + 1};
    while (perf_now_ns() < until) {
        if (qk_try_consume(t, s, 1, 0, NULL) == QK_OK)
            qk_refund(t, s, 1);
        if (qk_store_status(t, &info) != QK_OK)
            perf_die("qk_store_status: %s", qk_errmsg());
        const uint64_t held = si[s].windows[0].held;
        if (held >= 100000 || held * 4 >= limit)
            return;
    }
}

static void *adapter_create(const perf_setup *setup)
{
    static unsigned instances;
    char err[256];
    if (perf_redis_start(err, sizeof err) != 0)
        perf_die("%s", err);
    leased_state *st = perf_alloc(sizeof *st);
    qk_service_def *defs = calloc(setup->n_services, sizeof *defs);
    st->usage = calloc(setup->n_services, sizeof *st->usage);
    st->names = calloc(setup->n_services, sizeof *st->names);
    if (defs == NULL || st->usage == NULL || st->names == NULL)
        perf_die("no memory for %u services", setup->n_services);
    const unsigned instance = __atomic_fetch_add(&instances, 1, __ATOMIC_RELAXED);
    for (uint32_t s = 0; s < setup->n_services; s++) {
        snprintf(st->names[s], sizeof st->names[s], "p%ld.%u.%s", (long)getpid(), instance,
                 setup->names[s]);
        defs[s].name = st->names[s];
        defs[s].windows[0] = (qk_window_def){QK_FOREVER, setup->limits[s]};
        defs[s].lease_max = LEASED_LEASE_MAX;
    }
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", perf_redis_port());
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = defs;
    opts.n_services = setup->n_services;
    opts.store = url;
    opts.store_timeout_ms = LEASED_STORE_TIMEOUT_MS;
    if (qk_tracker_new(&st->tracker, &opts) != QK_OK)
        perf_die("qk_tracker_new: %s", qk_errmsg());
    free(defs);
    st->n = setup->n_services;
    for (uint32_t s = 0; s < st->n; s++)
        warm_up(st->tracker, s, setup->limits[s]);
    st->syncs_at_start = store_syncs(st->tracker);
    return st;
}

static void adapter_destroy(void *state)
{
    leased_state *st = state;
    qk_tracker_free(st->tracker);
    redisContext *c = redisConnect("127.0.0.1", perf_redis_port());
    for (uint32_t s = 0; c != NULL && c->err == 0 && s < st->n; s++) {
        redisReply *keys = redisCommand(c, "KEYS qk:{%s}:*", st->names[s]);
        for (size_t i = 0; keys != NULL && keys->type == REDIS_REPLY_ARRAY && i < keys->elements;
             i++)
            freeReplyObject(redisCommand(c, "DEL %s", keys->element[i]->str));
        freeReplyObject(keys);
    }
    redisFree(c);
    free(st->names);
    free(st->usage);
    free(st);
}

static inline void adapter_record(void *state, uint32_t s)
{
    leased_state *st = state;
    qk_record(st->tracker, s, 1, NULL);
}

static inline bool adapter_consume(void *state, uint32_t s)
{
    leased_state *st = state;
    return qk_try_consume(st->tracker, s, 1, 0, NULL) == QK_OK;
}

static inline void adapter_refund(void *state, uint32_t s)
{
    leased_state *st = state;
    qk_refund(st->tracker, s, 1);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    leased_state *st = state;
    size_t count = 0;
    if (qk_snapshot(st->tracker, st->usage, st->n, &count) != QK_OK || count != st->n)
        perf_die("qk_snapshot: %s", qk_errmsg());
    for (uint32_t s = 0; s < st->n; s++)
        used[s] = st->usage[s].windows[0].used;
}

static uint64_t adapter_store_ops(void *state)
{
    leased_state *st = state;
    return store_syncs(st->tracker) - st->syncs_at_start;
}

#define ADAPTER_STORE_OPS
#define ADAPTER_SYMBOL perf_adapter_leased
#include "strategy_template.h"
