/* The perf harness's dynalite and its DynamoDB client (ddb_server.h). */
#include "ddb_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef PERF_DYNALITE_DEFAULT
#define PERF_DYNALITE_DEFAULT "build/node/node_modules/.bin/dynalite"
#endif

static pid_t server_pid;
static int server_port;
static char server_dir[256];
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

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

static bool node_on_path(void)
{
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        const size_t n = end ? (size_t)(end - path) : strlen(path);
        char bin[512];
        snprintf(bin, sizeof bin, "%.*s/node", (int)n, n ? path : ".");
        if (access(bin, X_OK) == 0)
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

static int free_port(void)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    const int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                   getsockname(fd, (struct sockaddr *)&a, &alen) == 0;
    if (fd >= 0)
        close(fd);
    return ok ? ntohs(a.sin_port) : -1;
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
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", server_port);
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
    if (server_pid <= 0 || getpid() == server_pid)
        return;
    pthread_mutex_lock(&pool_mu);
    while (n_idle > 0)
        curl_easy_cleanup(idle[--n_idle]);
    pthread_mutex_unlock(&pool_mu);
    kill(server_pid, SIGTERM);
    int status;
    for (int waited = 0; waited < 3000; waited += 10) {
        if (waitpid(server_pid, &status, WNOHANG) == server_pid)
            goto reaped;
        const struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, &status, 0);
reaped:
    server_pid = 0;
    server_port = 0;
    char log[300];
    snprintf(log, sizeof log, "%s/server.log", server_dir);
    unlink(log);
    rmdir(server_dir);
}

/* The table, as scripts/ddb-init.sh creates it; active at once (--createTableMs 0). */
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
        return fail(err, len, "dynalite: CreateTable answered HTTP %ld", status);
    }
    return 0;
}

int perf_ddb_start(char *err, size_t len)
{
    if (server_pid > 0)
        return 0;
    const char *env = getenv("QK_DYNALITE");
    const char *bin = env != NULL && *env != '\0' ? env : PERF_DYNALITE_DEFAULT;
    if (access(bin, X_OK) != 0)
        return fail(err, len,
                    "no dynalite at %s (%s): install it (scripts/need.sh --npm build/node "
                    "dynalite@4.0.0) or set QK_DYNALITE",
                    bin, strerror(errno));
    if (!node_on_path())
        return fail(err, len, "dynalite needs node on PATH: scripts/need.sh nodejs");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return fail(err, len, "curl_global_init failed");
    /* Dummy credentials for the library's requests; dynalite checks no signature. */
    setenv("AWS_ACCESS_KEY_ID", "qkperf", 0);
    setenv("AWS_SECRET_ACCESS_KEY", "qkperf", 0);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(server_dir, sizeof server_dir, "%s/qk_perf-dynalite-XXXXXX", tmp);
    if (mkdtemp(server_dir) == NULL)
        return fail(err, len, "mkdtemp %s: %s", server_dir, strerror(errno));
    const int port = free_port();
    char port_s[16], log[300];
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(log, sizeof log, "%s/server.log", server_dir);
    const pid_t parent = getpid();
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0)
        return fail(err, len, "fork: %s", strerror(errno));
    if (pid == 0) { /* only async-signal-safe calls until exec: the parent may have threads */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        const int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        const char *argv[] = {bin,         "--port",          port_s, "--host",
                              "127.0.0.1", "--createTableMs", "0",    "--deleteTableMs",
                              "0",         "--updateTableMs", "0",    NULL};
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    server_pid = pid;
    atexit(stop_server);
    for (int waited = 0; waited < 20000; waited += 50) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            server_pid = 0;
            return fail(err, len, "%s exited before answering on port %d (log: %s)", bin, port,
                        log);
        }
        if (accepts(port)) {
            server_port = port;
            if (create_table(err, len) != 0) {
                stop_server();
                return -1;
            }
            return 0;
        }
        const struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    stop_server();
    return fail(err, len, "%s did not answer on port %d within 20 s", bin, port);
}

int perf_ddb_port(void)
{
    return server_port;
}

const char *perf_ddb_table(void)
{
    return table;
}

void perf_ddb_store_url(char *url, size_t len)
{
    snprintf(url, len, "dynamodb://%s?region=us-east-1&endpoint=http://127.0.0.1:%d", table,
             server_port);
}
