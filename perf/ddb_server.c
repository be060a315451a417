/* The perf harness's dynalite and its DynamoDB client (ddb_server.h). dynalite is started with
 * tests/support's server helper (tests/support/servers.c, compiled into qk_perf from its source
 * path), and the table made by qk_store_init, as an operator makes it: one launcher for the
 * tests and perf, and no second copy of the table's schema. */
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

/* The pool of curl handles: a handle is not for two threads at once. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static CURL *idle[256];
static unsigned n_idle;

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    buffer *b = arg;
    const size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

long perf_ddb_call(const char *op, const char *body, json_t **answer)
{
    pthread_mutex_lock(&pool_mu);
    CURL *c = n_idle > 0 ? idle[--n_idle] : NULL;
    pthread_mutex_unlock(&pool_mu);
    if (c == NULL) {
        c = curl_easy_init();
        if (c == NULL)
            perf_die("curl_easy_init failed");
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", server.port);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:dynamodb");
        curl_easy_setopt(c, CURLOPT_USERNAME, "qkperf");
        curl_easy_setopt(c, CURLOPT_PASSWORD, "qkperf");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    }
    char target[96];
    snprintf(target, sizeof target, "X-Amz-Target: DynamoDB_20120810.%s", op);
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
    headers = curl_slist_append(headers, target);
    buffer b = {0};
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    pthread_mutex_lock(&pool_mu);
    if (n_idle < sizeof idle / sizeof idle[0])
        idle[n_idle++] = c, c = NULL;
    pthread_mutex_unlock(&pool_mu);
    if (c != NULL)
        curl_easy_cleanup(c);
    if (answer != NULL)
        *answer = b.data != NULL ? json_loads(b.data, 0, NULL) : NULL;
    free(b.data);
    return status;
}

static void stop_server(void)
{
    if (server.pid <= 0)
        return;
    pthread_mutex_lock(&pool_mu);
    while (n_idle > 0)
        curl_easy_cleanup(idle[--n_idle]);
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
    const int rc = qk_store_init(NULL, url, 30000);
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
