/* The perf harness's dynalite and its DynamoDB client (ddb_server.h). dynalite is started with
 * tests/support's server helper (tests/support/servers.c, compiled into qk_perf from its source
 * path), the table made by qk_store_init, as an operator makes it, and the direct calls of the
 * per-call strategy made through the library's own transport: one launcher for the tests and
 * perf, one DynamoDB client, and no second copy of the table's schema. */
#include "ddb_server.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "quotakeeper.h"
#include "servers.h"
#include "store/dynamodb.h"

static qkt_server server;
static char table[64];

static atomic_uint_fast64_t requests;

/* The link wraps every curl_easy_perform (the library's and ours) with this one, so that store
 * requests are counted where they are made. */
CURLcode __real_curl_easy_perform(CURL *c);
CURLcode __wrap_curl_easy_perform(CURL *c);
CURLcode __wrap_curl_easy_perform(CURL *c)
{
    atomic_fetch_add_explicit(&requests, 1, memory_order_relaxed);
    return __real_curl_easy_perform(c);
}

uint64_t perf_ddb_requests(void)
{
    return atomic_load(&requests);
}

/* The library's own DynamoDB transport (src/store/dynamodb_http.c: SigV4, retries, one deadline
 * per call), one per thread at a time from a pool: perf's direct calls and the store's are made
 * by the same client. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static qk__ddb_http *idle[256];
static unsigned n_idle;
static qk__ddb_target target;

long perf_ddb_call(const char *op, const char *body, json_t **answer)
{
    pthread_mutex_lock(&pool_mu);
    qk__ddb_http *h = n_idle > 0 ? idle[--n_idle] : NULL;
    pthread_mutex_unlock(&pool_mu);
    if (h == NULL && qk__ddb_http_new(&h, &target) != QK_OK)
        perf_die("qk__ddb_http_new: %s", qk_errmsg());
    qk__ddb_answer a;
    const int rc = qk__ddb_call(h, op, body, qk__store_now_ms() + 10000, &a);
    const long status = rc == QK_OK ? a.status : 0;
    if (answer != NULL)
        *answer = rc == QK_OK && a.body != NULL ? json_loadb(a.body, a.len, 0, NULL) : NULL;
    pthread_mutex_lock(&pool_mu);
    if (n_idle < sizeof idle / sizeof idle[0])
        idle[n_idle++] = h, h = NULL;
    pthread_mutex_unlock(&pool_mu);
    qk__ddb_http_free(h);
    return status;
}

static void stop_server(void)
{
    if (server.pid <= 0)
        return;
    pthread_mutex_lock(&pool_mu);
    while (n_idle > 0)
        qk__ddb_http_free(idle[--n_idle]);
    pthread_mutex_unlock(&pool_mu);
    qkt_server_stop(&server);
}

int perf_ddb_start(char *err, size_t len)
{
    if (server.pid > 0)
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, len, "curl_global_init failed");
        return -1;
    }
    /* Dummy credentials for the library's requests; dynalite checks no signature. */
    setenv("AWS_ACCESS_KEY_ID", "qkperf", 0);
    setenv("AWS_SECRET_ACCESS_KEY", "qkperf", 0);
    /* In memory; stopped at exit (here, after the handles, and by the helper's own atexit),
     * and with the thread that started it (the main thread: strategies are created there). */
    if (qkt_server_start(&server, QKT_DYNALITE, NULL) != 0) {
        snprintf(err, len, "%s", server.error); /* it names the fix */
        return -1;
    }
    atexit(stop_server);
    snprintf(table, sizeof table, "qk_perf_%ld", (long)getpid());
    char url[256];
    perf_ddb_store_url(url, sizeof url);
    int rc = qk_store_init(NULL, url, 30000);
    qk__store_url parsed;
    if (rc == QK_OK && (rc = qk__store_url_parse(&parsed, url)) == QK_OK)
        rc = qk__ddb_target_parse(&target, &parsed); /* the same URL the store strategies use */
    if (rc != QK_OK) {
        snprintf(err, len, "dynalite: qk_store_init: %s: %s", qk_err_name(rc), qk_errmsg());
        table[0] = '\0';
        stop_server();
        return -1;
    }
    return 0;
}

int perf_ddb_port(void)
{
    return server.port;
}

const char *perf_ddb_table(void)
{
    return table;
}

void perf_ddb_store_url(char *url, size_t len)
{
    snprintf(url, len, "dynamodb://%s?region=us-east-1&endpoint=http://127.0.0.1:%d", table,
             server.port);
}
