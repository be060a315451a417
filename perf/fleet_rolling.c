/* qk_fleet_rolling: store operations per consume for rolling windows in the fleet (issue 22;
 * docs/perf/README.md, "Rolling windows in the fleet").
 *
 *   qk_fleet_rolling --store redis|dynamodb [--windows 1s,1m,1h] [--hosts 4,64] [--rate 100]
 *                    [--short-s 10] [--long-s 36] [--timeout-ms 1000] [--no-header]
 *
 * One CSV row on stdout per window W and host count H, in that order. Each row is a fleet of H
 * hosts, each a private tracker of its own (its own host id and sync thread) in this process,
 * on a service of its own with one rolling window of length W and a limit L = rate x W, so that
 * the fleet's steady demand, `rate` calls a second in all, is the limit's rate. Each host has a
 * thread that consumes one call at a time on a fixed schedule (every H / rate seconds, the hosts
 * evenly interleaved), for D seconds: --short-s for a 1 s window, --long-s for the others (a
 * piece of a minute is 6 s, of an hour 6 min: docs/store.md, "Rolling windows: leased in
 * pieces"). A consume that falls behind its schedule (it waited for a sync) runs at once, so the
 * attempts are rate x D whatever the store's latency; QK_ELIMIT is counted as refused and
 * QK_EUNAVAIL as unavailable, any other answer ends the run.
 *
 * A row: the consumes granted, refused and unavailable; the store operations, the sum over the
 * hosts of qk_store_status's `syncs` from just after every host opened to the end of D (the
 * give-backs of qk_tracker_free are not in it), and its failures; what the server itself
 * counted over the same span (Redis: script calls, INFO commandstats' EVALSHA and EVAL;
 * DynamoDB: HTTP requests, every curl_easy_perform of the process, which perf/CMakeLists.txt
 * wraps); the operations per granted consume; the grants as a share of L x D / W; and how
 * late the latest consume ran against its schedule.
 *
 * Only the public API for the hosts; the servers are perf's (redis_server.h, ddb_server.h:
 * tests/support's launcher, stopped by pid at exit and with this process: PR_SET_PDEATHSIG).
 * Every loop ends by its deadline; SIGTERM or SIGINT stop the run early: the hosts stop at
 * their next consume, are freed, and the program exits 1 through exit(), so the servers stop. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "ddb_server.h"
#include "harness.h"
#include "redis_server.h"

#define MAX_HOSTS   256
#define MAX_CHOICES 8

static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qk_fleet_rolling: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

typedef enum { BACKEND_REDIS, BACKEND_DDB } backend;

typedef struct {
    backend kind;
    const char *name;
    char url[256];
    redisContext *info; /* Redis: the connection that reads the server's counters */
} store_ctx;

/* ---- what the server counted ---- */

/* The script calls the server ran: INFO commandstats' EVALSHA, and EVAL should a script go in
 * full. Not total_commands_processed, which also counts every command a script runs. */
static uint64_t redis_script_calls(store_ctx *s)
{
    redisReply *r = redisCommand(s->info, "INFO commandstats");
    if (r == NULL || r->type != REDIS_REPLY_STRING)
        fail("redis INFO commandstats: %s", r == NULL ? s->info->errstr : "not a string");
    uint64_t n = 0;
    static const char *const names[] = {"cmdstat_evalsha:calls=", "cmdstat_eval:calls="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *p = strstr(r->str, names[i]);
        if (p != NULL)
            n += strtoull(p + strlen(names[i]), NULL, 10);
    }
    freeReplyObject(r);
    return n;
}

/* The server's count so far of the operations the hosts asked of it. */
static uint64_t server_count(store_ctx *s)
{
    return s->kind == BACKEND_REDIS ? redis_script_calls(s) : perf_ddb_requests();
}

/* ---- one host ---- */

typedef struct {
    _Alignas(128) qk_tracker *t;
    uint64_t t0_ns, end_ns;      /* CLOCK_MONOTONIC: the schedule's origin and the deadline */
    uint64_t phase_ns, every_ns; /* this host's k-th consume is due at t0 + phase + k x every */
    uint64_t granted, refused;   /* QK_ELIMIT */
    uint64_t unavailable;        /* QK_EUNAVAIL */
    uint64_t late_max_ns;        /* the most a consume ran after it was due */
    int other_rc;                /* any other answer: the run fails */
} host;

/* Sleeps until `due` on CLOCK_MONOTONIC, in steps of at most 100 ms so a stop signal is seen. */
static void sleep_until(uint64_t due)
{
    for (;;) {
        const uint64_t now = perf_now_ns();
        if (now >= due || stop_signal)
            return;
        uint64_t until = due - now > 100000000u ? now + 100000000u : due;
        const struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
}

static void *host_main(void *arg)
{
    host *h = arg;
    for (uint64_t k = 0;; k++) {
        const uint64_t due = h->t0_ns + h->phase_ns + k * h->every_ns;
        if (due >= h->end_ns || stop_signal)
            break;
        sleep_until(due);
        if (stop_signal)
            break;
        const uint64_t late = perf_now_ns() - due;
        if (late > h->late_max_ns)
            h->late_max_ns = late;
        const int rc = qk_try_consume(h->t, 0, 1, 0, NULL);
        if (rc == QK_OK)
            h->granted++;
        else if (rc == QK_ELIMIT)
            h->refused++;
        else if (rc == QK_EUNAVAIL)
            h->unavailable++;
        else {
            h->other_rc = rc;
            break;
        }
    }
    return NULL;
}

/* Adds the tracker's store operations and failures; the last failure's words go to why (when
 * not NULL and still empty). */
static void store_counts(qk_tracker *t, uint64_t *syncs, uint64_t *failures, char *why,
                         size_t why_len)
{
    qk_store_info info = {.version = QK_STORE_INFO_VERSION};
    if (qk_store_status(t, &info) != QK_OK)
        fail("qk_store_status: %s", qk_errmsg());
    *syncs += info.syncs;
    *failures += info.failures;
    if (why != NULL && why[0] == '\0' && info.last_error[0] != '\0')
        snprintf(why, why_len, "%s", info.last_error);
}

/* ---- one row ---- */

typedef struct {
    const char *label; /* "1s" */
    qk_period period;
    unsigned seconds; /* W */
} window_choice;

static const window_choice windows_known[] = {
    {"1s", QK_SECOND, 1}, {"1m", QK_MINUTE, 60}, {"1h", QK_HOUR, 3600}};

typedef struct {
    double rate;        /* the fleet's calls a second */
    double short_s;     /* D for a 1 s window */
    double long_s;      /* D for the others */
    int64_t timeout_ms; /* qk_options.store_timeout_ms */
} run_args;

/* Returns 0, or 1 when a stop signal ended it (nothing printed). */
static int run_row(store_ctx *s, const window_choice *w, unsigned n_hosts, const run_args *a)
{
    const uint64_t limit = (uint64_t)(a->rate * w->seconds + 0.5);
    const double d_s = w->seconds <= 1 ? a->short_s : a->long_s;
    char svc[QK_NAME_MAX];
    snprintf(svc, sizeof svc, "rolling.%s.%u.%ld", w->label, n_hosts, (long)getpid());
    const qk_service_def def = {.name = svc,
                                .windows = {{w->period, limit, .flags = QK_WINDOW_ROLLING}}};
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = &def;
    opts.n_services = 1;
    opts.store = s->url;
    opts.store_timeout_ms = a->timeout_ms;

    host *hosts = perf_alloc(sizeof *hosts * n_hosts);
    for (unsigned i = 0; i < n_hosts; i++)
        if (qk_tracker_new(&hosts[i].t, &opts) != QK_OK)
            fail("qk_tracker_new (%s, host %u): %s", svc, i, qk_errmsg());

    uint64_t syncs0 = 0, failures0 = 0;
    for (unsigned i = 0; i < n_hosts; i++)
        store_counts(hosts[i].t, &syncs0, &failures0, NULL, 0);
    const uint64_t server0 = server_count(s);

    /* The fleet's consumes evenly spaced: one every 1 / rate s, host i taking every n-th. */
    const uint64_t gap_ns = (uint64_t)(1e9 / a->rate);
    const uint64_t t0 = perf_now_ns() + 200000000u; /* every thread started by then */
    const uint64_t end = t0 + (uint64_t)(d_s * 1e9);
    pthread_t *threads = perf_alloc(sizeof *threads * n_hosts);
    for (unsigned i = 0; i < n_hosts; i++) {
        hosts[i].t0_ns = t0;
        hosts[i].end_ns = end;
        hosts[i].phase_ns = gap_ns * i;
        hosts[i].every_ns = gap_ns * n_hosts;
        const int e = pthread_create(&threads[i], NULL, host_main, &hosts[i]);
        if (e != 0)
            fail("pthread_create: %s", strerror(e));
    }
    for (unsigned i = 0; i < n_hosts; i++)
        pthread_join(threads[i], NULL);
    const double ran_s = (double)(perf_now_ns() - t0) / 1e9;

    uint64_t syncs1 = 0, failures1 = 0;
    char why[256] = "";
    for (unsigned i = 0; i < n_hosts; i++)
        store_counts(hosts[i].t, &syncs1, &failures1, why, sizeof why);
    const uint64_t server1 = server_count(s);

    uint64_t granted = 0, refused = 0, unavailable = 0, late_max = 0;
    int other_rc = QK_OK;
    for (unsigned i = 0; i < n_hosts; i++) {
        granted += hosts[i].granted;
        refused += hosts[i].refused;
        unavailable += hosts[i].unavailable;
        if (hosts[i].late_max_ns > late_max)
            late_max = hosts[i].late_max_ns;
        if (hosts[i].other_rc != QK_OK)
            other_rc = hosts[i].other_rc;
    }
    for (unsigned i = 0; i < n_hosts; i++)
        qk_tracker_free(hosts[i].t);
    free(threads);
    free(hosts);
    if (stop_signal)
        return 1;
    if (other_rc != QK_OK)
        fail("%s: a consume answered %s", svc, qk_err_name(other_rc));

    const uint64_t ops = syncs1 - syncs0;
    const uint64_t server = server1 - server0;
    const double fair = a->rate * d_s; /* L x D / W */
    printf("%s,%u,%u,%" PRIu64 ",%g,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
           ",%" PRIu64 ",%" PRIu64 ",%.3f,%.3f,%.0f\n",
           s->name, w->seconds, n_hosts, limit, d_s, granted + refused + unavailable, granted,
           refused, unavailable, ops, failures1 - failures0, server,
           granted ? (double)ops / (double)granted : 0.0, (double)granted / fair,
           (double)late_max / 1e6);
    fflush(stdout);
    fprintf(stderr,
            "qk_fleet_rolling: %s W=%s H=%u: %.1f s, %" PRIu64 " granted, %" PRIu64
            " store operations\n",
            s->name, w->label, n_hosts, ran_s, granted, ops);
    if (failures1 != failures0)
        fprintf(stderr, "qk_fleet_rolling: %s W=%s H=%u: %" PRIu64 " store failures, one: %s\n",
                s->name, w->label, n_hosts, failures1 - failures0, why);
    return 0;
}

/* ---- arguments ---- */

static _Noreturn void usage(void)
{
    fail("usage: qk_fleet_rolling --store redis|dynamodb [--windows 1s,1m,1h] [--hosts 4,64] "
         "[--rate 100] [--short-s 10] [--long-s 36] [--timeout-ms 1000] [--no-header]");
}

static double positive(const char *s)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0))
        usage();
    return v;
}

/* A comma-separated list into out[]: window labels (indices into windows_known) when windows,
 * else host counts. */
static unsigned parse_list(const char *s, bool windows, unsigned *out)
{
    unsigned n = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_CHOICES)
            usage();
        if (windows) {
            unsigned k = 0;
            while (k < sizeof windows_known / sizeof windows_known[0] &&
                   strcmp(windows_known[k].label, tok) != 0)
                k++;
            if (k == sizeof windows_known / sizeof windows_known[0])
                usage();
            out[n++] = k;
        } else {
            const double v = positive(tok);
            if (v > MAX_HOSTS || v != (unsigned)v)
                usage();
            out[n++] = (unsigned)v;
        }
    }
    if (n == 0)
        usage();
    return n;
}

int main(int argc, char **argv)
{
    run_args a = {.rate = 100, .short_s = 10, .long_s = 36, .timeout_ms = 1000};
    unsigned windows[MAX_CHOICES] = {0, 1, 2}, n_windows = 3;
    unsigned hosts[MAX_CHOICES] = {4, 64}, n_hosts = 2;
    const char *store_name = NULL;
    bool header = true;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--no-header") == 0) {
            header = false;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(o, "--store") == 0)
            store_name = v;
        else if (strcmp(o, "--windows") == 0)
            n_windows = parse_list(v, true, windows);
        else if (strcmp(o, "--hosts") == 0)
            n_hosts = parse_list(v, false, hosts);
        else if (strcmp(o, "--rate") == 0)
            a.rate = positive(v);
        else if (strcmp(o, "--short-s") == 0)
            a.short_s = positive(v);
        else if (strcmp(o, "--long-s") == 0)
            a.long_s = positive(v);
        else if (strcmp(o, "--timeout-ms") == 0)
            a.timeout_ms = (int64_t)positive(v);
        else
            usage();
    }
    if (store_name == NULL || a.short_s > 600 || a.long_s > 600 || a.rate > 100000)
        usage();

    store_ctx s = {.name = store_name};
    char err[512];
    if (strcmp(store_name, "redis") == 0) {
        s.kind = BACKEND_REDIS;
        if (perf_redis_start(err, sizeof err) != 0)
            fail("%s", err);
        snprintf(s.url, sizeof s.url, "redis://127.0.0.1:%d", perf_redis_port());
        const struct timeval tv = {10, 0};
        s.info = redisConnectWithTimeout("127.0.0.1", perf_redis_port(), tv);
        if (s.info == NULL || s.info->err)
            fail("redis: %s", s.info ? s.info->errstr : "no memory");
        redisSetTimeout(s.info, tv);
    } else if (strcmp(store_name, "dynamodb") == 0) {
        s.kind = BACKEND_DDB;
        if (perf_ddb_start(err, sizeof err) != 0)
            fail("%s", err);
        perf_ddb_store_url(s.url, sizeof s.url);
    } else {
        usage();
    }

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (header)
        printf("store,window_s,hosts,limit,seconds,demand,granted,refused,unavailable,store_ops,"
               "store_failures,server_ops,ops_per_grant,share_of_fair,late_max_ms\n");
    int stopped = 0;
    for (unsigned wi = 0; wi < n_windows && !stopped; wi++)
        for (unsigned hi = 0; hi < n_hosts && !stopped; hi++)
            stopped = run_row(&s, &windows_known[windows[wi]], hosts[hi], &a);
    if (s.info != NULL)
        redisFree(s.info);
    if (stopped) {
        fprintf(stderr, "qk_fleet_rolling: stopped by signal %d; the row under way is left out\n",
                (int)stop_signal);
        exit(1); /* through exit(): the servers' atexit handlers stop them */
    }
    return 0;
}
