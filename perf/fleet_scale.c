/* qk_fleet_scale: the fleet at scale (issue 21, item 3; docs/perf/README.md, "Fleet scale").
 *
 *   qk_fleet_scale --churn N --store redis|dynamodb [--block 1000] [--max-seconds 480]
 *   qk_fleet_scale --width H --store redis|dynamodb [--procs 4] [--threads 3] [--seconds 125]
 *                  [--limit 6*H] [--slow-us 20]
 *
 * churn: N short-lived hosts one after another, each a private tracker of its own (so a host id
 * of its own) on one service with a month window: open, consume 3, qk_store_sync, free. One CSV
 * row per block of hosts on stdout: the time of consume+sync per host (median, p90), and what
 * the server holds and spends (Redis: INFO commandstats' EVALSHA usec per call over the block,
 * the window hash's HLEN and the other keys of the service; DynamoDB: the service item's size
 * as JSON from a GetItem and the service's items (its own and its hosts' tombs) counted by a Scan).
 * At the end the store's U must be 3 * N exactly, read from the server, or the run fails. --warmup
 * hosts (200) go first on a service of their own and are not reported: the first block then
 * measures warm connections and a warm server (dynalite's JIT), like the last.
 *
 * width: H live hosts at once, trackers in a few forked processes, a few worker threads each
 * cycling over their trackers at each host's own rate (a quarter of the hosts want 4x the
 * others), one service with a minute window whose limit the fleet's demand exceeds 2.5x. The
 * parent reads the window from the server all along (U <= L at every read, or the run fails),
 * and at the end of the first window it saw whole the G - U left in it: granted to hosts as
 * leases and never used (--trace writes every read). The sum of U over the windows must equal
 * the hosts' grants once they have synced. One CSV row on stdout.
 *
 * Only the public API for the hosts; the servers are perf's (redis_server.h, ddb_server.h:
 * tests/support's launcher, stopped by pid at exit). Every loop and every child is bounded in
 * time; children die with the parent (PR_SET_PDEATHSIG) and leave with _exit, so that the
 * parent's atexit handlers (which stop the servers) run once, in the parent. */
#include <errno.h>
#include <stdarg.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "ddb_server.h"
#include "harness.h"
#include "redis_server.h"

typedef enum { STORE_REDIS, STORE_DDB } store_kind;

static store_kind store;
static char store_url[256];
static char svc[QK_NAME_MAX];
static bool in_child; /* a forked host process: never run the parent's atexit handlers */
static pid_t parent_pid;

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qk_fleet_scale: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (in_child)
        _exit(3); /* exit() would stop the parent's servers (their atexit handlers) */
    exit(2);
}

/* ---- small helpers ---- */

static double now_s(void)
{
    return (double)perf_now_ns() / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of v[0..n-1] (sorted in place), nearest rank. */
static double quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)ceil(q * (double)n);
    i = i == 0 ? 0 : i - 1;
    return v[i < n ? i : n - 1];
}

static int64_t month_start_ms(int64_t ms)
{
    const time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return (int64_t)timegm(&tm) * 1000;
}

static qk_tracker *open_host(qk_period period, uint64_t limit, int64_t timeout_ms)
{
    const qk_service_def def = {.name = svc, .windows = {{period, limit}}};
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = &def;
    opts.n_services = 1;
    opts.store = store_url;
    opts.store_timeout_ms = timeout_ms;
    qk_tracker *t;
    if (qk_tracker_new(&t, &opts) != QK_OK)
        die("qk_tracker_new: %s", qk_errmsg());
    return t;
}

/* What the tracker's store said last, for a failure's message. */
static const char *last_store_error(qk_tracker *t)
{
    static qk_store_info info;
    info = (qk_store_info){.version = QK_STORE_INFO_VERSION};
    if (qk_store_status(t, &info) != QK_OK)
        return "unknown";
    return info.last_error[0] ? info.last_error : "none";
}

/* ---- Redis: what the server holds and spends ---- */

static redisContext *redis_connect(void)
{
    const struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", perf_redis_port(), tv);
    if (c == NULL || c->err)
        die("redis: %s", c ? c->errstr : "no memory");
    redisSetTimeout(c, tv);
    return c;
}

static redisReply *redis_cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL)
        die("redis: %s", c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        die("redis: %s", r->str);
    return r;
}

/* The script's calls and CPU so far (INFO commandstats: EVALSHA, and EVAL for a script sent
 * in full after NOSCRIPT). */
static void redis_script_stats(redisContext *c, uint64_t *calls, uint64_t *usec)
{
    redisReply *r = redis_cmd(c, "INFO commandstats");
    *calls = *usec = 0;
    static const char *const names[] = {"cmdstat_evalsha:", "cmdstat_eval:"};
    for (unsigned i = 0; i < 2; i++) {
        const char *p = strstr(r->str, names[i]);
        unsigned long long n = 0, us = 0;
        if (p != NULL && sscanf(p + strlen(names[i]), "calls=%llu,usec=%llu", &n, &us) == 2)
            *calls += n, *usec += us;
    }
    freeReplyObject(r);
}

typedef struct {
    uint64_t n_keys;         /* the service's keys */
    uint64_t window_entries; /* the window hash's HLEN */
    uint64_t other_keys;     /* keys besides the window hash */
    uint64_t other_entries;  /* their sizes: HLEN, ZCARD, SCARD, LLEN, 1 for a string */
    uint64_t bytes;          /* MEMORY USAGE summed over the service's keys */
} redis_footprint;

static uint64_t redis_int(redisContext *c, const char *fmt, const char *key)
{
    redisReply *r = redis_cmd(c, fmt, key);
    const uint64_t v = r->type == REDIS_REPLY_INTEGER ? (uint64_t)r->integer : 0;
    freeReplyObject(r);
    return v;
}

/* Every key of the service (SCAN MATCH qk:{svc}:*), window the name of the window hash. */
static redis_footprint redis_footprint_of(redisContext *c, const char *window)
{
    redis_footprint f = {0};
    char cursor[32] = "0", pattern[QK_NAME_MAX + 16];
    snprintf(pattern, sizeof pattern, "qk:{%s}:*", svc);
    for (unsigned rounds = 0; rounds < 100000; rounds++) {
        redisReply *r = redis_cmd(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
            die("redis: SCAN: odd reply");
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            f.n_keys++;
            f.bytes += redis_int(c, "MEMORY USAGE %s", k);
            redisReply *ty = redis_cmd(c, "TYPE %s", k);
            uint64_t size = 1;
            if (strcmp(ty->str, "hash") == 0)
                size = redis_int(c, "HLEN %s", k);
            else if (strcmp(ty->str, "zset") == 0)
                size = redis_int(c, "ZCARD %s", k);
            else if (strcmp(ty->str, "set") == 0)
                size = redis_int(c, "SCARD %s", k);
            else if (strcmp(ty->str, "list") == 0)
                size = redis_int(c, "LLEN %s", k);
            freeReplyObject(ty);
            if (strcmp(k, window) == 0)
                f.window_entries = size;
            else
                f.other_keys++, f.other_entries += size;
        }
        freeReplyObject(r);
        if (strcmp(cursor, "0") == 0)
            return f;
    }
    die("redis: SCAN did not end");
}

/* One field of a hash as a count; -1 when it is not there. */
static int64_t redis_hash_count(redisContext *c, const char *key, const char *field)
{
    redisReply *r = redis_cmd(c, "HGET %s %s", key, field);
    const int64_t v = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    return v;
}

/* ---- DynamoDB: the service item ---- */

static json_t *ddb_service_item(void)
{
    json_t *body = json_pack("{s:s, s:{s:{s:s}}, s:b}", "TableName", perf_ddb_table(), "Key", "pk",
                             "S", svc, "ConsistentRead", 1);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *answer = NULL;
    const long status = perf_ddb_call("GetItem", text, &answer);
    free(text);
    if (status != 200 || answer == NULL)
        die("dynalite: GetItem: HTTP %ld", status);
    json_t *item = json_incref(json_object_get(answer, "Item"));
    json_decref(answer);
    return item; /* NULL: no item yet */
}

/* The service's items in the table: its own and those keyed "<service>/..." (a retired host's
 * tomb), by a Scan that counts (Select COUNT, begins_with(pk, service)), page after page. */
static uint64_t ddb_service_items(void)
{
    uint64_t count = 0;
    json_t *start = NULL;
    for (unsigned pages = 0; pages < 10000; pages++) {
        json_t *body = json_pack("{s:s, s:s, s:s, s:{s:{s:s}}}", "TableName", perf_ddb_table(),
                                 "Select", "COUNT", "FilterExpression", "begins_with(pk, :p)",
                                 "ExpressionAttributeValues", ":p", "S", svc);
        if (start != NULL)
            json_object_set_new(body, "ExclusiveStartKey", start);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        json_t *answer = NULL;
        const long status = perf_ddb_call("Scan", text, &answer);
        free(text);
        if (status != 200 || answer == NULL)
            die("dynalite: Scan: HTTP %ld", status);
        count += (uint64_t)json_integer_value(json_object_get(answer, "Count"));
        start = json_incref(json_object_get(answer, "LastEvaluatedKey"));
        json_decref(answer);
        if (start == NULL)
            return count;
    }
    die("dynalite: Scan did not end");
}

static int64_t ddb_num(json_t *map, const char *name)
{
    const char *s = json_string_value(json_object_get(json_object_get(map, name), "N"));
    return s != NULL ? strtoll(s, NULL, 10) : -1;
}

/* The window attribute w_<letter><start> of the item, as a map; NULL when not there. */
static json_t *ddb_window(json_t *item, char letter, int64_t start)
{
    char name[64];
    snprintf(name, sizeof name, "w_%c%" PRId64, letter, start);
    return json_object_get(json_object_get(item, name), "M");
}

/* ---- churn ---- */

typedef struct {
    unsigned block_size;
    unsigned hosts;
    unsigned warmup; /* hosts first, on a service of their own, not reported */
    double max_seconds;
    int64_t timeout_ms;
} churn_args;

/* One churn host: open, consume 3, sync, free; the three times in ms. */
static void churn_host(unsigned i, int64_t timeout_ms, double *opened, double *op, double *freed)
{
    const uint64_t s0 = perf_now_ns();
    qk_tracker *t = open_host(QK_MONTH, 1000000000u, timeout_ms);
    const uint64_t s1 = perf_now_ns();
    int e = qk_try_consume(t, 0, 3, 0, NULL);
    if (e != QK_OK)
        die("host %u: qk_try_consume: %s: %s (the store's last error: %s)", i, qk_err_name(e),
            qk_errmsg(), last_store_error(t));
    if ((e = qk_store_sync(t)) != QK_OK)
        die("host %u: qk_store_sync: %s: %s", i, qk_err_name(e), qk_errmsg());
    const uint64_t s2 = perf_now_ns();
    qk_tracker_free(t);
    const uint64_t s3 = perf_now_ns();
    *opened = (double)(s1 - s0) / 1e6;
    *op = (double)(s2 - s1) / 1e6;
    *freed = (double)(s3 - s2) / 1e6;
}

static int churn(const churn_args *a)
{
    const int64_t month = month_start_ms(wall_ms());
    char window_key[128];
    snprintf(window_key, sizeof window_key, "qk:{%s}:M:%" PRId64, svc, month);
    redisContext *rc = store == STORE_REDIS ? redis_connect() : NULL;
    double *op = malloc(a->block_size * sizeof *op), *opened = malloc(a->block_size * sizeof *op),
           *freed = malloc(a->block_size * sizeof *op);
    if (op == NULL || opened == NULL || freed == NULL)
        die("out of memory");
    puts("store,block,hosts_seen,hosts_in_block,seconds,new_p50_ms,p50_ms,p90_ms,max_ms,"
         "free_p50_ms,store_requests_per_host,server_us_per_call,window_entries,other_keys,"
         "other_entries,bytes,items");
    /* The warm-up: the server's and this process's first requests (connections, the script's
     * load, node's JIT under dynalite) on a service of their own, so that the first block
     * measures the same steady state as the last. */
    char measured[QK_NAME_MAX];
    memcpy(measured, svc, sizeof svc);
    snprintf(svc, sizeof svc, "fleet.warmup.%ld", (long)getpid());
    for (unsigned i = 0; i < a->warmup; i++) {
        double x, y, z;
        churn_host(i, a->timeout_ms, &x, &y, &z);
    }
    memcpy(svc, measured, sizeof svc);
    const double t0 = now_s();
    unsigned done = 0, block = 0;
    double first_p50 = 0, last_p50 = 0;
    bool cut = false;
    while (done < a->hosts && !cut) {
        uint64_t calls0 = 0, usec0 = 0, req0 = 0;
        if (rc != NULL)
            redis_script_stats(rc, &calls0, &usec0);
        else
            req0 = perf_ddb_requests();
        const double b0 = now_s();
        unsigned n = 0;
        while (n < a->block_size && done < a->hosts) {
            if (now_s() - t0 > a->max_seconds) {
                cut = true;
                break;
            }
            churn_host(done, a->timeout_ms, &opened[n], &op[n], &freed[n]);
            n++, done++;
        }
        if (n == 0)
            break;
        const double secs = now_s() - b0;
        double us_per_call = -1, requests;
        uint64_t entries = 0, other_keys = 0, other_entries = 0, bytes = 0, items = 0;
        if (rc != NULL) {
            uint64_t calls1, usec1;
            redis_script_stats(rc, &calls1, &usec1);
            us_per_call = calls1 > calls0 ? (double)(usec1 - usec0) / (double)(calls1 - calls0) : 0;
            requests = (double)(calls1 - calls0) / n;
            const redis_footprint f = redis_footprint_of(rc, window_key);
            entries = f.window_entries, other_keys = f.other_keys;
            other_entries = f.other_entries, bytes = f.bytes, items = f.n_keys;
        } else {
            requests = (double)(perf_ddb_requests() - req0) / n;
            json_t *item = ddb_service_item();
            char *text = item ? json_dumps(item, JSON_COMPACT) : NULL;
            bytes = text ? strlen(text) : 0;
            free(text);
            json_t *w = ddb_window(item, 'M', month);
            entries = w ? json_object_size(json_object_get(json_object_get(w, "h"), "M")) : 0;
            json_decref(item);
            items = ddb_service_items();
        }
        const double p50 = quantile(op, n, 0.5), p90 = quantile(op, n, 0.9);
        if (block == 0)
            first_p50 = p50;
        if (n == a->block_size || block == 0)
            last_p50 = p50; /* a cut block is reported, not used for the ratio */
        printf("%s,%u,%u,%u,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.2f,",
               store == STORE_REDIS ? "redis" : "dynamodb", block, done, n, secs,
               quantile(opened, n, 0.5), p50, p90, quantile(op, n, 1.0), quantile(freed, n, 0.5),
               requests);
        if (us_per_call >= 0)
            printf("%.1f", us_per_call);
        printf(",%" PRIu64 ",", entries);
        if (rc != NULL)
            printf("%" PRIu64 ",%" PRIu64, other_keys, other_entries);
        else
            printf(",");
        printf(",%" PRIu64 ",%" PRIu64 "\n", bytes, items);
        fflush(stdout);
        fprintf(stderr,
                "churn %s: block %u, %u hosts seen, consume+sync p50 %.3f ms p90 %.3f ms, "
                "window entries %" PRIu64 ", %" PRIu64 " bytes, %.1f s\n",
                store == STORE_REDIS ? "redis" : "dynamodb", block, done, p50, p90, entries, bytes,
                secs);
        block++;
    }
    /* The fleet's count, straight from the server. */
    int64_t used;
    if (rc != NULL) {
        used = redis_hash_count(rc, window_key, "U");
        redisFree(rc);
    } else {
        json_t *item = ddb_service_item();
        used = ddb_num(ddb_window(item, 'M', month), "U");
        json_decref(item);
    }
    free(op), free(opened), free(freed);
    fprintf(stderr,
            "churn %s: %u hosts%s in %.1f s; store U %" PRId64 " (want %llu); last / first "
            "block median %.2f\n",
            store == STORE_REDIS ? "redis" : "dynamodb", done, cut ? " (cut by --max-seconds)" : "",
            now_s() - t0, used, 3ull * done, first_p50 > 0 ? last_p50 / first_p50 : 0);
    if (used != (int64_t)(3ull * done)) {
        fprintf(stderr, "churn: FAIL: the store counts %" PRId64 ", the hosts consumed %llu\n",
                used, 3ull * done);
        return 1;
    }
    return 0;
}

/* ---- width ---- */

typedef struct {
    unsigned hosts, procs, threads;
    uint64_t limit; /* per minute */
    double seconds, slow_us;
    const char *trace; /* every read of the windows, as CSV; NULL: none */
    int64_t timeout_ms;
} width_args;

/* What a child sends back through its results file. */
typedef struct {
    uint32_t heavy;
    uint64_t attempts, grants, syncs, failures;
    uint64_t held; /* its lease of the window that ends whole, 0.5 s before that end */
} host_result;

typedef struct {
    qk_tracker *t;
    double rate; /* consumes per second */
    double next; /* when it next consumes, s on the monotonic clock */
    host_result r;
} host;

typedef struct {
    host *hosts;
    unsigned first, n, stride; /* this worker's hosts: first, first + stride, ... */
    double end;
    double *lat_us;
    size_t n_lat, cap_lat;
    uint64_t unavailable; /* QK_EUNAVAIL: the store did not answer in time, outage policy */
    uint64_t unexpected;  /* any other error */
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (;;) {
        double soonest = w->end;
        for (unsigned k = w->first; k < w->n; k += w->stride)
            if (w->hosts[k].next < soonest)
                soonest = w->hosts[k].next;
        double now = now_s();
        if (soonest >= w->end)
            break;
        if (soonest > now) {
            const double d = soonest - now;
            const struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        now = now_s();
        if (now >= w->end)
            break;
        for (unsigned k = w->first; k < w->n; k += w->stride) {
            host *h = &w->hosts[k];
            if (h->next > now)
                continue;
            const uint64_t s0 = perf_now_ns();
            const int e = qk_try_consume(h->t, 0, 1, 0, NULL);
            const uint64_t s1 = perf_now_ns();
            h->r.attempts++;
            if (e == QK_OK)
                h->r.grants++;
            else if (e == QK_EUNAVAIL)
                w->unavailable++;
            else if (e != QK_ELIMIT)
                w->unexpected++;
            if (w->n_lat < w->cap_lat)
                w->lat_us[w->n_lat++] = (double)(s1 - s0) / 1e3;
            h->next += 1.0 / h->rate;
        }
    }
    return NULL;
}

/* The private path's consume on this machine, for the slow threshold's report: p99 in us. */
static double private_p99_us(void)
{
    const qk_service_def def = {.name = "private", .windows = {{QK_FOREVER, UINT64_MAX / 2}}};
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = &def;
    opts.n_services = 1;
    qk_tracker *t;
    if (qk_tracker_new(&t, &opts) != QK_OK)
        die("qk_tracker_new: %s", qk_errmsg());
    enum { N = 20000 };
    double *v = malloc(N * sizeof *v);
    if (v == NULL)
        die("out of memory");
    for (unsigned i = 0; i < N; i++) {
        const uint64_t s0 = perf_now_ns();
        if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
            die("private consume refused");
        v[i] = (double)(perf_now_ns() - s0) / 1e3;
    }
    const double p = quantile(v, N, 0.99);
    free(v);
    qk_tracker_free(t);
    return p;
}

/* A child: its hosts, its workers, results to fd out. Never returns. */
static _Noreturn void width_child(const width_args *a, unsigned proc, unsigned first_host,
                                  unsigned n_hosts, int ready_fd, int go_fd, FILE *out,
                                  double light_rate)
{
    in_child = true;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent_pid)
        _exit(3);                        /* the parent died before the line above */
    alarm((unsigned)(a->seconds + 120)); /* the bound: setup, run, the last syncs */
    host *hs = calloc(n_hosts, sizeof *hs);
    if (hs == NULL)
        _exit(3);
    srand(1000 + proc);
    for (unsigned k = 0; k < n_hosts; k++) {
        hs[k].t = open_host(QK_MINUTE, a->limit, a->timeout_ms);
        hs[k].r.heavy = (first_host + k) % 4 == 0;
        hs[k].rate = hs[k].r.heavy ? 4 * light_rate : light_rate;
    }
    const double pp99 = private_p99_us();
    if (write(ready_fd, "r", 1) != 1)
        _exit(3);
    struct {
        double start;     /* the parent's start on the same monotonic clock */
        int64_t boundary; /* the end of the first window the run sees whole, ms since the epoch */
    } go;
    if (read(go_fd, &go, sizeof go) != (ssize_t)sizeof go)
        _exit(3);
    const double start = go.start;
    for (unsigned k = 0; k < n_hosts; k++)
        hs[k].next = start + (double)rand() / RAND_MAX / hs[k].rate; /* a random phase */
    const uint64_t req0 = store == STORE_DDB ? perf_ddb_requests() : 0;
    worker *ws = calloc(a->threads, sizeof *ws);
    pthread_t *th = calloc(a->threads, sizeof *th);
    if (ws == NULL || th == NULL)
        _exit(3);
    for (unsigned i = 0; i < a->threads; i++) {
        ws[i] = (worker){.hosts = hs,
                         .first = i,
                         .n = n_hosts,
                         .stride = a->threads,
                         .end = start + a->seconds,
                         .cap_lat = 1u << 20};
        ws[i].lat_us = malloc(ws[i].cap_lat * sizeof(double));
        if (ws[i].lat_us == NULL || pthread_create(&th[i], NULL, worker_main, &ws[i]) != 0)
            _exit(3);
    }
    /* What every host holds of that window half a second before it ends: the quota that its
     * end strands in leases, seen from the hosts (the parent reads G - U on the server). */
    const int64_t sample_at = go.boundary - 500;
    if (sample_at < wall_ms() + (int64_t)((start + a->seconds - now_s()) * 1000)) {
        while (wall_ms() < sample_at)
            usleep(10000);
        for (unsigned k = 0; k < n_hosts; k++) {
            qk_store_service_info si;
            qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = &si, .cap = 1};
            if (qk_store_status(hs[k].t, &info) == QK_OK && info.count == 1 &&
                si.windows[0].window_start_ms == go.boundary - 60000)
                hs[k].r.held = si.windows[0].held;
        }
    }
    for (unsigned i = 0; i < a->threads; i++)
        pthread_join(th[i], NULL);
    /* The hosts' last word, then their operation counts. */
    for (unsigned k = 0; k < n_hosts; k++) {
        /* Until the store has it (a store that was overloaded answers once the load is gone):
         * the count check needs every host's use in, and the free drops what is not. */
        for (unsigned tries = 0; tries < 50 && qk_store_sync(hs[k].t) != QK_OK; tries++)
            usleep(20000);
        qk_store_info info = {.version = QK_STORE_INFO_VERSION};
        if (qk_store_status(hs[k].t, &info) == QK_OK)
            hs[k].r.syncs = info.syncs, hs[k].r.failures = info.failures;
    }
    const uint64_t requests = store == STORE_DDB ? perf_ddb_requests() - req0 : 0;
    uint64_t unexpected = 0, unavailable = 0;
    size_t n_lat = 0;
    for (unsigned i = 0; i < a->threads; i++)
        unexpected += ws[i].unexpected, unavailable += ws[i].unavailable, n_lat += ws[i].n_lat;
    fprintf(out, "proc %u %u %.3f %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu\n", proc, n_hosts, pp99,
            requests, unavailable, unexpected, n_lat);
    for (unsigned k = 0; k < n_hosts; k++)
        fprintf(out, "host %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                hs[k].r.heavy, hs[k].r.attempts, hs[k].r.grants, hs[k].r.syncs, hs[k].r.failures,
                hs[k].r.held);
    for (unsigned i = 0; i < a->threads; i++)
        for (size_t j = 0; j < ws[i].n_lat; j++)
            fprintf(out, "%.3f\n", ws[i].lat_us[j]);
    fflush(out);
    for (unsigned k = 0; k < n_hosts; k++)
        qk_tracker_free(hs[k].t);
    _exit(fclose(out) == 0 ? 0 : 3);
}

typedef struct {
    int64_t start, L, G, U;
} window_read;

/* Every minute window of the service on the server: up to cap of them. */
static size_t read_windows(redisContext *c, window_read *w, size_t cap)
{
    size_t n = 0;
    if (c != NULL) {
        char cursor[32] = "0", pattern[QK_NAME_MAX + 16];
        snprintf(pattern, sizeof pattern, "qk:{%s}:m:*", svc);
        for (unsigned rounds = 0; rounds < 10000; rounds++) {
            redisReply *r = redis_cmd(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
            snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
            for (size_t i = 0; i < r->element[1]->elements && n < cap; i++) {
                const char *k = r->element[1]->element[i]->str;
                const char *tail = k + strlen(svc) + 8; /* qk:{svc}:m: */
                char *end;
                const long long start = strtoll(tail, &end, 10);
                if (*end != '\0')
                    continue; /* a key of the window's own (not the window hash) */
                redisReply *h = redis_cmd(c, "HMGET %s L G U", k);
                w[n] = (window_read){start, -1, 0, 0};
                if (h->type == REDIS_REPLY_ARRAY && h->elements == 3 && h->element[0]->str) {
                    w[n].L = strtoll(h->element[0]->str, NULL, 10);
                    w[n].G = h->element[1]->str ? strtoll(h->element[1]->str, NULL, 10) : 0;
                    w[n].U = h->element[2]->str ? strtoll(h->element[2]->str, NULL, 10) : 0;
                    n++;
                }
                freeReplyObject(h);
            }
            freeReplyObject(r);
            if (strcmp(cursor, "0") == 0)
                break;
        }
        return n;
    }
    json_t *item = ddb_service_item();
    const char *name;
    json_t *attr;
    json_object_foreach(item, name, attr)
    {
        if (strncmp(name, "w_m", 3) != 0 || n == cap)
            continue;
        json_t *m = json_object_get(attr, "M");
        w[n] = (window_read){strtoll(name + 3, NULL, 10), ddb_num(m, "L"), ddb_num(m, "G"),
                             ddb_num(m, "U")};
        n++;
    }
    json_decref(item);
    return n;
}

static const window_read *find_window(const window_read *w, size_t n, int64_t start)
{
    for (size_t i = 0; i < n; i++)
        if (w[i].start == start)
            return &w[i];
    return NULL;
}

static int width(const width_args *a)
{
    const unsigned P = a->procs < a->hosts ? a->procs : a->hosts;
    /* Demand: 2.5x the limit; light hosts r a minute, heavy ones 4r, a quarter of them heavy:
     * per minute r * (3H/4 + 4H/4) = 1.75 H r. */
    const double light_rate = 2.5 * (double)a->limit / (1.75 * a->hosts) / 60.0;
    pid_t pids[64];
    int ready[64], go[64];
    FILE *res[64];
    char tmpl[] = "/tmp/qk_fleet_XXXXXX";
    if (P > 64 || mkdtemp(tmpl) == NULL)
        die("width: too many processes or no temporary directory");
    char path[64][128];
    fflush(NULL);
    parent_pid = getpid();
    for (unsigned p = 0; p < P; p++) {
        int rp[2], gp[2];
        snprintf(path[p], sizeof path[p], "%s/child-%u.txt", tmpl, p);
        res[p] = fopen(path[p], "w+");
        if (res[p] == NULL || pipe(rp) != 0 || pipe(gp) != 0)
            die("width: pipe or results file: %s", strerror(errno));
        const unsigned first = a->hosts * p / P, n = a->hosts * (p + 1) / P - first;
        const pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            close(rp[0]), close(gp[1]);
            width_child(a, p, first, n, rp[1], gp[0], res[p], light_rate);
        }
        close(rp[1]), close(gp[0]);
        pids[p] = pid, ready[p] = rp[0], go[p] = gp[1];
    }
    /* Every child ready (its trackers open) within 120 s, or the run fails; the children's
     * alarm bounds them anyway. */
    for (unsigned p = 0; p < P; p++) {
        char c;
        if (read(ready[p], &c, 1) != 1)
            die("width: child %u did not get ready", p);
    }
    const double start = now_s() + 0.2, end = start + a->seconds;
    const int64_t start_wall = wall_ms() + 200;
    /* The end of the first window the run sees whole (it began after the run's start): G - U
     * at the first read after it, and again 3 s later (after the hosts' last reports of that
     * window); the hosts say what they hold of it just before. A run of 125 s sees it by 120 s. */
    const int64_t boundary = (start_wall + 59999) / 60000 * 60000 + 60000;
    const struct {
        double start;
        int64_t boundary;
    } go_msg = {start, boundary};
    for (unsigned p = 0; p < P; p++)
        if (write(go[p], &go_msg, sizeof go_msg) != (ssize_t)sizeof go_msg)
            die("width: child %u went away", p);
    fprintf(stderr,
            "width %s: %u hosts in %u processes, %u threads each, limit %" PRIu64
            "/min, demand 2.5x, %.0f s\n",
            store == STORE_REDIS ? "redis" : "dynamodb", a->hosts, P, a->threads, a->limit,
            a->seconds);

    /* The watch: the server's windows every 100 ms (Redis) or 300 ms (dynalite). */
    redisContext *rc = store == STORE_REDIS ? redis_connect() : NULL;
    uint64_t calls0 = 0, usec0 = 0, calls1 = 0, usec1 = 0;
    if (rc != NULL)
        redis_script_stats(rc, &calls0, &usec0);
    const double period = rc != NULL ? 0.1 : 0.3;
    uint64_t reads = 0;
    double worst = 0, worst_g = 0; /* max U / L and G / L seen */
    bool over = false;
    int64_t end_G = -1, end_U = -1, late_G = -1, late_U = -1, ended_L = -1;
    window_read w[64];
    FILE *trace = a->trace != NULL ? fopen(a->trace, "w") : NULL;
    if (a->trace != NULL && trace == NULL)
        die("cannot write %s", a->trace);
    if (trace != NULL)
        fputs("t_s,window_start_ms,L,G,U\n", trace);
    while (now_s() < end + 2) {
        const size_t n = read_windows(rc, w, 64);
        reads++;
        const int64_t at = wall_ms();
        for (size_t i = 0; trace != NULL && i < n; i++)
            fprintf(trace, "%.3f,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "\n",
                    (double)(at - start_wall) / 1e3, w[i].start, w[i].L, w[i].G, w[i].U);
        for (size_t i = 0; i < n; i++) {
            if (w[i].L > 0 && (double)w[i].U / (double)w[i].L > worst)
                worst = (double)w[i].U / (double)w[i].L;
            if (w[i].L > 0 && (double)w[i].G / (double)w[i].L > worst_g)
                worst_g = (double)w[i].G / (double)w[i].L;
            if (w[i].U > w[i].L) {
                over = true;
                fprintf(stderr, "width: FAIL: window %" PRId64 ": U %" PRId64 " > L %" PRId64 "\n",
                        w[i].start, w[i].U, w[i].L);
            }
        }
        const window_read *ended = find_window(w, n, boundary - 60000);
        if (at >= boundary && end_G < 0 && ended != NULL)
            end_G = ended->G, end_U = ended->U, ended_L = ended->L;
        if (at >= boundary + 3000 && late_G < 0 && ended != NULL)
            late_G = ended->G, late_U = ended->U;
        struct timespec ts = {0, (long)(period * 1e9)};
        nanosleep(&ts, NULL);
    }
    if (trace != NULL && fclose(trace) != 0)
        die("cannot write %s", a->trace);
    if (rc != NULL)
        redis_script_stats(rc, &calls1, &usec1);
    const double run_s = now_s() - start;

    /* The children: each within its alarm's bound; one that is not done 150 s after the end is
     * killed by pid. */
    bool child_failed = false;
    for (unsigned p = 0; p < P; p++) {
        int st = 0;
        for (;;) {
            const pid_t r = waitpid(pids[p], &st, WNOHANG);
            if (r == pids[p])
                break;
            if (now_s() > end + 150) {
                kill(pids[p], SIGKILL);
                waitpid(pids[p], &st, 0);
                break;
            }
            usleep(50000);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "width: FAIL: child %u ended with status %d\n", p, st);
            child_failed = true;
        }
    }

    /* The children's figures. */
    uint64_t attempts = 0, grants = 0, syncs = 0, failures = 0, requests = 0, unexpected = 0,
             unavailable = 0;
    double pp99 = 0, sum_x = 0, sum_x2 = 0, cls_sum[2] = {0, 0};
    unsigned cls_n[2] = {0, 0}, n_hosts = 0;
    uint64_t held[2] = {0, 0}, holding = 0, held_max = 0; /* just before the window's end */
    double *lat = NULL;
    size_t n_lat = 0, n_slow = 0;
    for (unsigned p = 0; p < P && !child_failed; p++) {
        rewind(res[p]);
        unsigned proc, nh;
        double p99;
        uint64_t req, unav, unexp;
        size_t nl;
        if (fscanf(res[p], "proc %u %u %lf %" SCNu64 " %" SCNu64 " %" SCNu64 " %zu\n", &proc, &nh,
                   &p99, &req, &unav, &unexp, &nl) != 7)
            die("width: child %u's results do not parse", p);
        pp99 = p99 > pp99 ? p99 : pp99;
        requests += req, unavailable += unav, unexpected += unexp;
        for (unsigned k = 0; k < nh; k++) {
            host_result r;
            if (fscanf(res[p],
                       "host %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 "\n",
                       &r.heavy, &r.attempts, &r.grants, &r.syncs, &r.failures, &r.held) != 6)
                die("width: child %u's host %u does not parse", p, k);
            attempts += r.attempts, grants += r.grants, syncs += r.syncs, failures += r.failures;
            held[r.heavy ? 1 : 0] += r.held, holding += r.held > 0;
            held_max = r.held > held_max ? r.held : held_max;
            if (r.attempts == 0)
                continue; /* no demand in the run (a short one): no share to judge */
            const double x = (double)r.grants / (double)r.attempts;
            sum_x += x, sum_x2 += x * x, n_hosts++;
            cls_sum[r.heavy ? 1 : 0] += x, cls_n[r.heavy ? 1 : 0]++;
        }
        double *grown = realloc(lat, (n_lat + nl) * sizeof *lat);
        if (grown == NULL)
            die("out of memory");
        lat = grown;
        for (size_t j = 0; j < nl; j++)
            if (fscanf(res[p], "%lf\n", &lat[n_lat + j]) != 1)
                die("width: child %u's latencies do not parse", p);
        n_lat += nl;
    }
    for (unsigned p = 0; p < P; p++)
        fclose(res[p]), unlink(path[p]);
    rmdir(tmpl);
    if (child_failed) {
        if (rc != NULL)
            redisFree(rc);
        return 1;
    }
    /* Consumes that waited for the store: slower than slow_us. */
    double *slow = malloc((n_lat ? n_lat : 1) * sizeof *slow);
    if (slow == NULL)
        die("out of memory");
    for (size_t j = 0; j < n_lat; j++)
        if (lat[j] > a->slow_us)
            slow[n_slow++] = lat[j];
    const double all_p99 = quantile(lat, n_lat, 0.99);
    /* Every grant counted, once every host's last word is in: the sum of U over the windows. */
    const size_t nw = read_windows(rc, w, 64);
    int64_t store_used = 0;
    for (size_t i = 0; i < nw; i++)
        store_used += w[i].U;
    const double ops = rc != NULL ? (double)(calls1 - calls0) : (double)requests;
    const double jain = sum_x2 > 0 ? sum_x * sum_x / (n_hosts * sum_x2) : 0;
    puts("store,hosts,procs,threads,limit_per_min,seconds,attempts,grants,unavailable,"
         "store_failures,store_ops,"
         "store_ops_per_s,host_syncs_per_s,server_us_per_call,private_p99_us,slow_threshold_us,"
         "slow_consumes,slow_p50_us,slow_p99_us,slow_max_us,all_p99_us,ended_L,ended_G_at_end,"
         "ended_U_at_end,stranded_at_end,ended_G_3s,ended_U_3s,stranded_3s,limit_reads,"
         "hosts_holding,held_heavy,held_light,held_max,max_U_over_L,max_G_over_L,heavy_grants_per_"
         "demand,light_grants_per_demand,jain,store_U,"
         "count_exact");
    printf("%s,%u,%u,%u,%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
           ",%.0f,%.1f,%.1f,",
           store == STORE_REDIS ? "redis" : "dynamodb", a->hosts, P, a->threads, a->limit, run_s,
           attempts, grants, unavailable, failures, ops, ops / run_s, (double)syncs / run_s);
    if (rc != NULL)
        printf("%.1f", calls1 > calls0 ? (double)(usec1 - usec0) / (double)(calls1 - calls0) : 0);
    printf(",%.2f,%.0f,%zu,%.0f,%.0f,%.0f,%.0f,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
           ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
           ",%" PRIu64 ",%.4f,%.4f,%.4f,%.4f,%.4f,%" PRId64 ",%s\n",
           pp99, a->slow_us, n_slow, quantile(slow, n_slow, 0.5), quantile(slow, n_slow, 0.99),
           quantile(slow, n_slow, 1.0), all_p99, ended_L, end_G, end_U,
           end_G >= 0 ? end_G - end_U : -1, late_G, late_U, late_G >= 0 ? late_G - late_U : -1,
           reads, holding, held[1], held[0], held_max, worst, worst_g,
           cls_n[1] ? cls_sum[1] / cls_n[1] : 0, cls_n[0] ? cls_sum[0] / cls_n[0] : 0, jain,
           store_used, store_used == (int64_t)grants ? "yes" : "no");
    fflush(stdout);
    fprintf(stderr,
            "width %s: %" PRIu64 " attempts, %" PRIu64 " granted, store U %" PRId64 "; %.1f store "
            "ops/s; %zu consumes over %.0f us (p50 %.0f, p99 %.0f, max %.0f us); stranded at "
            "the window's end %" PRId64 " (3 s later %" PRId64 "; %" PRIu64 " held by %" PRIu64
            " hosts 0.5 s before it, at most %" PRIu64 "); max U/L %.3f, G/L %.3f over %" PRIu64
            " reads; Jain %.3f; %" PRIu64 " failed store operations, %" PRIu64
            " consumes QK_EUNAVAIL, %" PRIu64 " other errors\n",
            store == STORE_REDIS ? "redis" : "dynamodb", attempts, grants, store_used, ops / run_s,
            n_slow, a->slow_us, quantile(slow, n_slow, 0.5), quantile(slow, n_slow, 0.99),
            quantile(slow, n_slow, 1.0), end_G >= 0 ? end_G - end_U : -1,
            late_G >= 0 ? late_G - late_U : -1, held[0] + held[1], holding, held_max, worst,
            worst_g, reads, jain, failures, unavailable, unexpected);
    free(lat), free(slow);
    if (rc != NULL)
        redisFree(rc);
    int bad = 0;
    if (over)
        fprintf(stderr, "width: FAIL: the fleet went over its limit\n"), bad = 1;
    if (store_used != (int64_t)grants)
        fprintf(stderr,
                "width: FAIL: the store counts %" PRId64 ", the hosts were granted %" PRIu64 "\n",
                store_used, grants),
            bad = 1;
    if (unexpected != 0)
        fprintf(stderr,
                "width: FAIL: %" PRIu64 " consumes failed other than QK_ELIMIT or QK_EUNAVAIL\n",
                unexpected),
            bad = 1;
    if (end_G < 0 && a->seconds >= 125) /* shorter runs (the smoke) may see no window end */
        fprintf(stderr, "width: FAIL: no window ended inside the run (--seconds too short?)\n"),
            bad = 1;
    return bad;
}

/* ---- main ---- */

static _Noreturn void usage(void)
{
    fputs("usage: qk_fleet_scale --churn N --store redis|dynamodb [--block 1000] "
          "[--warmup 200] [--max-seconds 480] [--timeout-ms 5000]\n"
          "       qk_fleet_scale --width H --store redis|dynamodb [--procs 4] [--threads 3] "
          "[--seconds 125] [--limit 6*H] [--slow-us 20] [--timeout-ms 0: the default] "
          "[--trace FILE.csv]\n",
          stderr);
    exit(2);
}

static double num_arg(const char *s)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0))
        usage();
    return v;
}

int main(int argc, char **argv)
{
    churn_args ca = {
        .block_size = 1000, .hosts = 10000, .warmup = 200, .max_seconds = 480, .timeout_ms = 5000};
    /* The churn's store timeout is long, so that a growing cost shows as time rather than as
     * failures; the width's is the library's default (0: 100 ms), what a fleet runs with. */
    width_args wa = {.procs = 4, .threads = 3, .seconds = 125, .slow_us = 20, .timeout_ms = 0};
    int mode = 0; /* 1 churn, 2 width */
    const char *store_name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(o, "--store") == 0)
            store_name = v;
        else if (strcmp(o, "--churn") == 0)
            mode = 1, ca.hosts = (unsigned)num_arg(v);
        else if (strcmp(o, "--width") == 0)
            mode = 2, wa.hosts = (unsigned)num_arg(v);
        else if (strcmp(o, "--warmup") == 0)
            ca.warmup = strcmp(v, "0") == 0 ? 0 : (unsigned)num_arg(v);
        else if (strcmp(o, "--block") == 0)
            ca.block_size = (unsigned)num_arg(v);
        else if (strcmp(o, "--max-seconds") == 0)
            ca.max_seconds = num_arg(v);
        else if (strcmp(o, "--procs") == 0)
            wa.procs = (unsigned)num_arg(v);
        else if (strcmp(o, "--threads") == 0)
            wa.threads = (unsigned)num_arg(v);
        else if (strcmp(o, "--seconds") == 0)
            wa.seconds = num_arg(v);
        else if (strcmp(o, "--limit") == 0)
            wa.limit = (uint64_t)num_arg(v);
        else if (strcmp(o, "--trace") == 0)
            wa.trace = v;
        else if (strcmp(o, "--slow-us") == 0)
            wa.slow_us = num_arg(v);
        else if (strcmp(o, "--timeout-ms") == 0)
            ca.timeout_ms = wa.timeout_ms = (int64_t)num_arg(v);
        else
            usage();
    }
    if (mode == 0 || store_name == NULL || wa.procs > 64 || wa.threads > 64)
        usage();
    if (wa.limit == 0)
        wa.limit = 6ull * wa.hosts;
    char err[512];
    if (strcmp(store_name, "redis") == 0) {
        store = STORE_REDIS;
        if (perf_redis_start(err, sizeof err) != 0)
            die("%s", err);
        snprintf(store_url, sizeof store_url, "redis://127.0.0.1:%d", perf_redis_port());
    } else if (strcmp(store_name, "dynamodb") == 0) {
        store = STORE_DDB;
        if (perf_ddb_start(err, sizeof err) != 0)
            die("%s", err);
        perf_ddb_store_url(store_url, sizeof store_url);
    } else {
        usage();
    }
    snprintf(svc, sizeof svc, "fleet.%s.%ld", mode == 1 ? "churn" : "width", (long)getpid());
    return mode == 1 ? churn(&ca) : width(&wa);
}
