/* ddb-per-call: the original's per-call design on DynamoDB. One item per service holds its
 * count; every consume is one UpdateItem, ADD used :n on the condition used <= limit - n (a
 * ConditionalCheckFailedException is a refusal), exact per call and one request each on the
 * same dynalite as `leased-ddb`. Records are an unconditional ADD, refunds an ADD of -1, and a
 * snapshot one consistent BatchGetItem: DynamoDB reads each item on its own, so a cut can be
 * torn and the row says so. Item keys carry the process and instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddb_server.h"
#include "harness.h"

#define KEY_MAX 96

typedef struct {
    uint32_t n;
    char (*keys)[KEY_MAX];
    uint64_t *limits;
    uint64_t requests_at_start;
} ddb_state;

static void add(const ddb_state *st, uint32_t s, long long n)
{
    char body[384];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"%s\"}},"
             "\"UpdateExpression\":\"ADD used :n\","
             "\"ExpressionAttributeValues\":{\":n\":{\"N\":\"%lld\"}}}",
             perf_ddb_table(), st->keys[s], n);
    const long status = perf_ddb_call("UpdateItem", body, NULL);
    if (status != 200)
        perf_die("ddb-per-call: UpdateItem answered HTTP %ld", status);
}

static void *adapter_create(const perf_setup *setup)
{
    static unsigned instances;
    char err[256];
    if (perf_ddb_start(err, sizeof err) != 0)
        perf_die("%s", err);
    ddb_state *st = perf_alloc(sizeof *st);
    st->n = setup->n_services;
    st->keys = calloc(st->n, sizeof *st->keys);
    st->limits = calloc(st->n, sizeof *st->limits);
    if (st->keys == NULL || st->limits == NULL)
        perf_die("no memory for %u services", st->n);
    const unsigned instance = __atomic_fetch_add(&instances, 1, __ATOMIC_RELAXED);
    for (uint32_t s = 0; s < st->n; s++) {
        snprintf(st->keys[s], sizeof st->keys[s], "pc%ld.%u.%s", (long)getpid(), instance,
                 setup->names[s]);
        st->limits[s] = setup->limits[s];
        add(st, s, 0); /* the item, with used 0, so the condition has a value to compare */
    }
    st->requests_at_start = perf_ddb_requests();
    return st;
}

static void adapter_destroy(void *state)
{
    ddb_state *st = state;
    for (uint32_t s = 0; s < st->n; s++) {
        char body[256];
        snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"%s\"}}}",
                 perf_ddb_table(), st->keys[s]);
        perf_ddb_call("DeleteItem", body, NULL);
    }
    free(st->keys);
    free(st->limits);
    free(st);
}

QK_PERF_TRACKER_CALL void adapter_record(void *state, uint32_t s)
{
    add(state, s, 1);
}

QK_PERF_TRACKER_CALL bool adapter_consume(void *state, uint32_t s)
{
    const ddb_state *st = state;
    if (st->limits[s] < 1)
        return false;
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"%s\"}},"
             "\"UpdateExpression\":\"ADD used :n\",\"ConditionExpression\":\"used <= :max\","
             "\"ExpressionAttributeValues\":{\":n\":{\"N\":\"1\"},\":max\":{\"N\":\"%llu\"}}}",
             perf_ddb_table(), st->keys[s], (unsigned long long)(st->limits[s] - 1));
    json_t *answer = NULL;
    const long status = perf_ddb_call("UpdateItem", body, &answer);
    bool granted = status == 200;
    if (!granted) {
        const char *type = json_string_value(json_object_get(answer, "__type"));
        if (status != 400 || type == NULL || strstr(type, "ConditionalCheckFailed") == NULL)
            perf_die("ddb-per-call: UpdateItem answered HTTP %ld (%s)", status,
                     type ? type : "no type");
    }
    json_decref(answer);
    return granted;
}

QK_PERF_TRACKER_CALL void adapter_refund(void *state, uint32_t s)
{
    add(state, s, -1);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    const ddb_state *st = state;
    json_t *keys = json_array();
    for (uint32_t s = 0; s < st->n; s++)
        json_array_append_new(keys, json_pack("{s:{s:s}}", "pk", "S", st->keys[s]));
    json_t *request = json_pack("{s:{s:{s:o,s:b,s:s}}}", "RequestItems", perf_ddb_table(), "Keys",
                                keys, "ConsistentRead", 1, "ProjectionExpression", "pk, used");
    char *body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    json_t *answer = NULL;
    const long status = perf_ddb_call("BatchGetItem", body, &answer);
    free(body);
    if (status != 200)
        perf_die("ddb-per-call: BatchGetItem answered HTTP %ld", status);
    json_t *items = json_object_get(json_object_get(answer, "Responses"), perf_ddb_table());
    if (json_array_size(items) != st->n)
        perf_die("ddb-per-call: BatchGetItem returned %zu of %u items", json_array_size(items),
                 st->n);
    memset(used, 0, st->n * sizeof *used);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *pk = json_string_value(json_object_get(json_object_get(item, "pk"), "S"));
        const char *n = json_string_value(json_object_get(json_object_get(item, "used"), "N"));
        for (uint32_t s = 0; pk != NULL && n != NULL && s < st->n; s++)
            if (strcmp(pk, st->keys[s]) == 0)
                used[s] = strtoull(n, NULL, 10);
    }
    json_decref(answer);
}

static uint64_t adapter_store_ops(void *state)
{
    const ddb_state *st = state;
    return perf_ddb_requests() - st->requests_at_start;
}

#define ADAPTER_STORE_OPS
#define ADAPTER_SYMBOL perf_adapter_ddb_per_call
#include "strategy_template.h"
