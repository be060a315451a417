/* leased-ddb: `leased` on the DynamoDB store: quotakeeper with a dynamodb:// store on the perf
 * dynalite (ddb_server.h) and a lease in hand (perf/leased.h): consumes stay local while the
 * sync thread reports and tops up, each sync a GetItem and a conditional PutItem. Its store_ops
 * are HTTP requests to the emulator, counted at curl_easy_perform, not syncs; destroy gives the
 * lease back and deletes the items. */
#include <stdio.h>

#include "ddb_server.h"
#include "leased.h"

/* Dynalite is node on a shared 2-core machine: a sync can take tens of ms. */
#define LEASED_DDB_TIMEOUT_MS 2000

static void *adapter_create(const perf_setup *setup)
{
    char err[256];
    if (perf_ddb_start(err, sizeof err) != 0)
        perf_die("%s", err);
    char url[160];
    perf_ddb_store_url(url, sizeof url);
    perf_leased *l = perf_leased_open(setup, url, "ld", LEASED_DDB_TIMEOUT_MS, 200000000u);
    l->ops_at_start = perf_ddb_requests();
    return l;
}

static void adapter_destroy(void *state)
{
    perf_leased *l = state;
    perf_leased_close_tracker(l);
    for (uint32_t s = 0; s < l->n; s++) {
        char body[256];
        snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"%s\"}}}",
                 perf_ddb_table(), l->names[s]);
        perf_ddb_call("DeleteItem", body, NULL);
    }
    perf_leased_free(l);
}

static uint64_t adapter_store_ops(void *state)
{
    return perf_ddb_requests() - ((perf_leased *)state)->ops_at_start;
}

#include "leased_ops.h"
#define ADAPTER_STORE_OPS
#define ADAPTER_SYMBOL perf_adapter_leased_ddb
#include "strategy_template.h"
