/* leased-ddb: `leased` on the DynamoDB store. quotakeeper with a dynamodb:// store on the perf
 * dynalite (ddb_server.h) and a lease in hand (lease_max 10^7): consumes stay local while the
 * sync thread reports and tops up, each sync a GetItem and a conditional PutItem. Its store_ops
 * are HTTP requests to the emulator, counted at curl_easy_perform, not syncs. Service names
 * carry the process and instance; destroy gives the lease back and deletes the items. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "ddb_server.h"
#include "harness.h"

#define LEASED_DDB_LEASE_MAX 10000000u
/* Dynalite is node on a shared 2-core machine: a sync can take tens of ms. */
#define LEASED_DDB_TIMEOUT_MS 2000

typedef struct {
    qk_tracker *tracker;
    uint32_t n;
    qk_usage *usage;
    char (*names)[QK_NAME_MAX];
    uint64_t requests_at_start;
} leased_ddb_state;

/* Consume and give back until the lease held is worth having, or 200 ms passed. */
static void wait_for_lease(qk_tracker *t, uint32_t s, uint64_t limit)
{
    const uint64_t until = perf_now_ns() + 200000000u;
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
    if (perf_ddb_start(err, sizeof err) != 0)
        perf_die("%s", err);
    leased_ddb_state *st = perf_alloc(sizeof *st);
    st->n = setup->n_services;
    qk_service_def *defs = calloc(st->n, sizeof *defs);
    st->usage = calloc(st->n, sizeof *st->usage);
    st->names = calloc(st->n, sizeof *st->names);
    if (defs == NULL || st->usage == NULL || st->names == NULL)
        perf_die("no memory for %u services", st->n);
    const unsigned instance = __atomic_fetch_add(&instances, 1, __ATOMIC_RELAXED);
    for (uint32_t s = 0; s < st->n; s++) {
        snprintf(st->names[s], sizeof st->names[s], "ld%ld.%u.%s", (long)getpid(), instance,
                 setup->names[s]);
        defs[s].name = st->names[s];
        defs[s].windows[0] = (qk_window_def){QK_FOREVER, setup->limits[s]};
        defs[s].lease_max = LEASED_DDB_LEASE_MAX;
    }
    char url[160];
    perf_ddb_store_url(url, sizeof url);
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = defs;
    opts.n_services = st->n;
    opts.store = url;
    opts.store_timeout_ms = LEASED_DDB_TIMEOUT_MS;
    if (qk_tracker_new(&st->tracker, &opts) != QK_OK)
        perf_die("qk_tracker_new: %s", qk_errmsg());
    free(defs);
    for (uint32_t s = 0; s < st->n; s++)
        wait_for_lease(st->tracker, s, setup->limits[s]);
    st->requests_at_start = perf_ddb_requests();
    return st;
}

static void adapter_destroy(void *state)
{
    leased_ddb_state *st = state;
    qk_tracker_free(st->tracker);
    for (uint32_t s = 0; s < st->n; s++) {
        char body[256];
        snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"%s\"}}}",
                 perf_ddb_table(), st->names[s]);
        perf_ddb_call("DeleteItem", body, NULL);
    }
    free(st->names);
    free(st->usage);
    free(st);
}

static inline void adapter_record(void *state, uint32_t s)
{
    leased_ddb_state *st = state;
    qk_record(st->tracker, s, 1, NULL);
}

static inline bool adapter_consume(void *state, uint32_t s)
{
    leased_ddb_state *st = state;
    return qk_try_consume(st->tracker, s, 1, 0, NULL) == QK_OK;
}

static inline void adapter_refund(void *state, uint32_t s)
{
    leased_ddb_state *st = state;
    qk_refund(st->tracker, s, 1);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    leased_ddb_state *st = state;
    size_t count = 0;
    if (qk_snapshot(st->tracker, st->usage, st->n, &count) != QK_OK || count != st->n)
        perf_die("qk_snapshot: %s", qk_errmsg());
    for (uint32_t s = 0; s < st->n; s++)
        used[s] = st->usage[s].windows[0].used;
}

static uint64_t adapter_store_ops(void *state)
{
    leased_ddb_state *st = state;
    return perf_ddb_requests() - st->requests_at_start;
}

#define ADAPTER_STORE_OPS
#define ADAPTER_SYMBOL perf_adapter_leased_ddb
#include "strategy_template.h"
