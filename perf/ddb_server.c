/* The perf harness's dynalite and its DynamoDB client (ddb_server.h). */
#include "ddb_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "server_process.h"

#ifndef PERF_DYNALITE_DEFAULT
#define PERF_DYNALITE_DEFAULT "build/node/node_modules/.bin/dynalite"
#endif

static perf_server server;
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

static bool node_on_path(void)
{
    char bin[512];
    return perf_find_on_path(bin, sizeof bin, "node") == 0;
}

static bool accepts(int port)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    const bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
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
    perf_server_stop(&server);
}

/* The table, as qk_store_init creates it; active at once (--createTableMs 0). */
static int create_table(char *err, size_t len)
{
    snprintf(table, sizeof table, "qk_perf_%ld", (long)getpid());
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\","
             "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
             "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
             "\"BillingMode\":\"PAY_PER_REQUEST\"}",
             table);
    const long status = perf_ddb_call("CreateTable", body, NULL);
    if (status != 200) {
        table[0] = '\0';
        return perf_fail(err, len, "dynalite: CreateTable answered HTTP %ld", status);
    }
    return 0;
}

int perf_ddb_start(char *err, size_t len)
{
    if (server.pid > 0)
        return 0;
    const char *env = getenv("QK_DYNALITE");
    const char *bin = env != NULL && *env != '\0' ? env : PERF_DYNALITE_DEFAULT;
    if (access(bin, X_OK) != 0)
        return perf_fail(err, len,
                         "no dynalite at %s (%s): install it (scripts/need.sh --npm build/node "
                         "dynalite@4.0.0) or set QK_DYNALITE",
                         bin, strerror(errno));
    if (!node_on_path())
        return perf_fail(err, len, "dynalite needs node on PATH: scripts/need.sh nodejs");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return perf_fail(err, len, "curl_global_init failed");
    /* Dummy credentials for the library's requests; dynalite checks no signature. */
    setenv("AWS_ACCESS_KEY_ID", "qkperf", 0);
    setenv("AWS_SECRET_ACCESS_KEY", "qkperf", 0);
    if (perf_server_prepare(&server, "dynalite", err, len) != 0)
        return -1;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", server.port);
    const char *argv[] = {bin,         "--port",          port_s, "--host",
                          "127.0.0.1", "--createTableMs", "0",    "--deleteTableMs",
                          "0",         "--updateTableMs", "0",    NULL};
    atexit(stop_server);
    if (perf_server_spawn(&server, argv, accepts, 20000, err, len) != 0)
        return -1;
    if (create_table(err, len) != 0) {
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
