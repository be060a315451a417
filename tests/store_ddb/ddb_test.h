/* What the DynamoDB store suites share: dynalite from tests/support with a table made the way
 * qk_store_init makes it, trackers attached to it, and the store's view of a quota read
 * straight from the table (GetItem with libcurl and jansson, independent of the backend's
 * code), through the item layout of docs/store.md: pk = service, v, and per window an attribute
 * w_<period letter><start_ms> with s, e, L, G, U and h.<host id>.{g,x,u,r,t}, and the tombs of
 * retired hosts (pk "<service>/<host id>"). Criterion only. */
#ifndef QK_DDB_TEST_H
#define QK_DDB_TEST_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "qkt_criterion.h"
#include "qkt_store.h"
#include "servers.h"
#include "tmpdir.h"

/* Fault tests: each failed call waits this long. */
#define FAULT_TIMEOUT_MS 300
/* Tests that are not about faults: a sync must not fail by accident on a loaded machine (node
 * answers in about a millisecond, but a 2-core machine running other suites stalls it). */
#define CALM_TIMEOUT_MS 5000
#define TABLE           "qk_quota"

static inline void sleep_ms(long ms)
{
    const struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Any credentials: dynalite checks only their shape. */
static inline void fake_credentials(void)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDQKTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "qk-test-secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
}

static size_t ddb_collect(char *data, size_t size, size_t n, void *arg)
{
    char **buf = arg;
    const size_t old = *buf ? strlen(*buf) : 0;
    char *grown = realloc(*buf, old + size * n + 1);
    cr_assert_not_null(grown);
    memcpy(grown + old, data, size * n);
    grown[old + size * n] = '\0';
    *buf = grown;
    return size * n;
}

/* One DynamoDB call to dynalite on port; its HTTP status in *status, its JSON answer
 * (json_decref it). */
static inline json_t *ddb_raw(int port, const char *op, const char *body, long *status)
{
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    char url[64], target[80];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    snprintf(target, sizeof target, "X-Amz-Target: DynamoDB_20120810.%s", op);
    struct curl_slist *h = curl_slist_append(NULL, target);
    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.0");
    char *answer = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:dynamodb");
    curl_easy_setopt(c, CURLOPT_USERPWD, "AKIDQKTEST:qk-test-secret");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ddb_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    const CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "dynalite %s: %s", op, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    json_t *j = json_loads(answer ? answer : "{}", 0, NULL);
    cr_assert_not_null(j, "dynalite %s: not JSON: %s", op, answer);
    free(answer);
    return j;
}

/* A call that must succeed. */
static inline json_t *ddb(int port, const char *op, const char *body)
{
    long status = 0;
    json_t *j = ddb_raw(port, op, body, &status);
    char *shown = json_dumps(j, JSON_COMPACT);
    cr_assert_eq(status, 200, "dynalite %s: HTTP %ld %s", op, status, shown);
    free(shown);
    return j;
}

static inline void create_table_keyed(int port, const char *table, const char *key)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"AttributeDefinitions\":[{\"AttributeName\":\"%s\","
             "\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":\"%s\",\"KeyType\":"
             "\"HASH\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}",
             table, key, key);
    json_decref(ddb(port, "CreateTable", body));
    /* dynalite keeps a new table CREATING for a while (its createTableMs): wait for ACTIVE. */
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", table);
    const int64_t until = qkt_mono_ms() + 20000;
    for (;;) {
        json_t *j = ddb(port, "DescribeTable", body);
        const char *st = "";
        json_unpack(j, "{s:{s:s}}", "Table", "TableStatus", &st);
        const int active = strcmp(st, "ACTIVE") == 0;
        json_decref(j);
        if (active)
            break;
        cr_assert_lt(qkt_mono_ms(), until, "table %s never became ACTIVE", table);
        sleep_ms(20);
    }
}

/* dynalite with the quota table (what qk_store_init makes). */
static inline void start_dynalite(qkt_server *s)
{
    fake_credentials();
    cr_assert_eq(qkt_server_start(s, QKT_DYNALITE, NULL), 0, "%s", s->error);
    create_table_keyed(s->port, TABLE, "pk");
}

static inline void ddb_url(char *buf, size_t len, const qkt_server *s, const char *table)
{
    snprintf(buf, len, "dynamodb://%s?region=us-east-1&endpoint=http://127.0.0.1:%d", table,
             s->port);
}

/* The service's item (json_decref it); NULL when there is none. */
static inline json_t *get_item(int port, const char *service)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"TableName\":\"" TABLE
             "\",\"Key\":{\"pk\":{\"S\":\"%s\"}},\"ConsistentRead\":true}",
             service);
    json_t *j = ddb(port, "GetItem", body);
    json_t *item = json_incref(json_object_get(j, "Item"));
    json_decref(j);
    return item;
}

static inline uint64_t num_of(json_t *attr)
{
    const char *s = NULL;
    cr_assert_eq(json_unpack(attr, "{s:s}", "N", &s), 0, "not a number attribute");
    return strtoull(s, NULL, 10);
}

/* Whether name is a window attribute of one period of letter p in zone (NULL: UTC):
 * w_<p><start>, or w_<p><start>@<zone> (not w_<p><every>x<start>, a window of several periods;
 * a zone's name may hold an 'x', so only the part before '@' is looked at). */
static inline bool window_name_is(const char *name, char p, const char *zone)
{
    if (name[0] != 'w' || name[1] != '_' || name[2] != p)
        return false;
    const char *at = strchr(name, '@');
    const size_t head = at != NULL ? (size_t)(at - name) : strlen(name);
    if (memchr(name, 'x', head) != NULL)
        return false;
    return zone == NULL ? at == NULL : at != NULL && strcmp(at + 1, zone) == 0;
}

/* The name of the service's one window attribute of one period of letter p in zone (NULL: UTC);
 * the test fails unless exactly one exists. Borrowed from item. */
static inline const char *window_name_in(json_t *item, char p, const char *zone)
{
    cr_assert_not_null(item, "no item");
    const char *name, *found = NULL;
    json_t *v;
    unsigned n = 0;
    json_object_foreach(item, name, v)
    {
        if (window_name_is(name, p, zone)) {
            found = name;
            n++;
        }
    }
    cr_assert_eq(n, 1, "%u windows of period %c in %s", n, p, zone != NULL ? zone : "UTC");
    return found;
}

/* The service's one UTC window attribute of one period named w_<p><start>; the test fails
 * unless exactly one exists. Borrowed from item. */
static inline json_t *window_of(json_t *item, char p)
{
    return json_object_get(json_object_get(item, window_name_in(item, p, NULL)), "M");
}

/* The name (w_<p><start_ms>) of the service's one UTC window attribute of period letter p. */
static inline const char *window_name_of(json_t *item, char p)
{
    return window_name_in(item, p, NULL);
}

/* Every tomb item of a service (docs/store.md, "Retirement": pk "<service>/<host id>"), as a
 * JSON array of items (json_decref it): a consistent Scan filtered on begins_with(pk,
 * "<service>/"), every page. */
static inline json_t *tombs_of(int port, const char *service)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/", service);
    json_t *all = json_array(), *start = NULL;
    for (int page = 0; page < 1000; page++) {
        json_t *q = json_pack("{s:s, s:s, s:{s:{s:s}}, s:b}", "TableName", TABLE,
                              "FilterExpression", "begins_with(pk, :p)",
                              "ExpressionAttributeValues", ":p", "S", prefix, "ConsistentRead", 1);
        if (start != NULL)
            json_object_set(q, "ExclusiveStartKey", start);
        char *body = json_dumps(q, JSON_COMPACT);
        json_decref(q);
        json_t *j = ddb(port, "Scan", body);
        free(body);
        json_array_extend(all, json_object_get(j, "Items"));
        json_decref(start);
        start = json_incref(json_object_get(j, "LastEvaluatedKey"));
        json_decref(j);
        if (start == NULL)
            return all;
    }
    cr_assert_fail("the tombs of %s never ended", service);
    return NULL;
}

/* One host's counters in one window. */
typedef struct {
    char id[40];
    uint64_t g, x, u, r, t;
} host_counts;

/* A tomb's window attribute named name as counters; 0 when the tomb lacks it. The host id is
 * what follows "<service>/" in its pk. */
static inline int tomb_window(json_t *tomb, const char *name, host_counts *out)
{
    memset(out, 0, sizeof *out);
    const char *pk = NULL;
    cr_assert_eq(json_unpack(tomb, "{s:{s:s}}", "pk", "S", &pk), 0, "a tomb without pk");
    const char *slash = strchr(pk, '/');
    cr_assert_not_null(slash, "tomb pk '%s'", pk);
    snprintf(out->id, sizeof out->id, "%s", slash + 1);
    json_t *w = json_object_get(json_object_get(tomb, name), "M");
    if (w == NULL)
        return 0;
    out->g = num_of(json_object_get(w, "g"));
    out->x = num_of(json_object_get(w, "x"));
    out->u = num_of(json_object_get(w, "u"));
    out->r = num_of(json_object_get(w, "r"));
    return 1;
}

/* L, G or U of a window. */
static inline uint64_t wfield(json_t *w, const char *f)
{
    return num_of(json_object_get(w, f));
}

/* g, u, r or t of a host in a window; 0 when the host is absent. */
static inline uint64_t hfield(json_t *w, const char *host, const char *f)
{
    json_t *h = json_object_get(json_object_get(json_object_get(w, "h"), "M"), host);
    if (h == NULL)
        return 0;
    return num_of(json_object_get(json_object_get(h, "M"), f));
}

/* The fleet's U, G, L of a service's window of period letter p, read fresh. */
typedef struct {
    uint64_t L, G, U, sum_u, sum_g;
    unsigned hosts, retired;
} fleet_view;

/* sum_u and sum_g cover the retired hosts too: a tomb's window counts when its host has no
 * entry in the window (an entry back from a tomb supersedes it). */
static inline fleet_view fleet_of(int port, const char *service, char p)
{
    json_t *item = get_item(port, service);
    json_t *w = window_of(item, p);
    fleet_view f = {wfield(w, "L"), wfield(w, "G"), wfield(w, "U"), 0, 0, 0, 0};
    json_t *hosts = json_object_get(json_object_get(w, "h"), "M");
    const char *id;
    json_t *h;
    json_object_foreach(hosts, id, h)
    {
        f.sum_u += hfield(w, id, "u") - hfield(w, id, "r");
        f.sum_g += hfield(w, id, "g") - hfield(w, id, "x");
        f.hosts++;
    }
    json_t *tombs = tombs_of(port, service);
    size_t i;
    json_t *tomb;
    json_array_foreach(tombs, i, tomb)
    {
        host_counts c;
        if (!tomb_window(tomb, window_name_of(item, p), &c) || json_object_get(hosts, c.id))
            continue;
        f.sum_u += c.u - c.r;
        f.sum_g += c.g - c.x;
        f.retired++;
    }
    json_decref(tombs);
    json_decref(item);
    return f;
}

#endif
