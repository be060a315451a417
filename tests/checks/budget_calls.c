/* qk_checks_budget_calls: the calls the hot-path budget holds (tests/checks/hot_path_budget.txt,
 * docs/perf/hot-path.md), each kind N times in a function of its own, measure_<op>_<tracker>,
 * for callgrind to count (tests/checks/hot_path_budget.sh runs it so and compares):
 *
 *   qk_checks_budget_calls [--ops N]
 *
 * op is consume (qk_try_consume) or record (qk_record); tracker is private, store (a tracker on
 * a real redis-server started here on a free loopback port, warmed until its lease holds every
 * measured call, so no measured call waits for a sync) or file (a state file in a temporary
 * directory). Every tracker has one QK_FOREVER window with a limit no run reaches, as in
 * perf/consume_cost.c, whose private and store figures these are; the loops are the same, and
 * this file is compiled as that one is (-O2, no lock checks) so the loop's own instructions
 * count alike. Prints nothing of its own but "ops: N"; a failed call ends it with a message. */
#include <inttypes.h>
#include <quotakeeper.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "servers.h"
#include "tmpdir.h"

static char file_dir[PATH_MAX];

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qk_checks_budget_calls: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    qkt_servers_stop_all();
    if (file_dir[0])
        qkt_tmpdir_remove(file_dir);
    exit(1);
}

static qk_tracker *open_tracker(const char *kind, const char *url, const char *path)
{
    char name[64];
    snprintf(name, sizeof name, "budget.%ld.%s", (long)time(NULL), kind);
    qk_service_def def = {
        .name = name, .windows = {{QK_FOREVER, UINT64_C(1) << 50}}, .lease_max = UINT64_C(1) << 28};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &def;
    o.n_services = 1;
    o.store = url;
    o.store_timeout_ms = 2000;
    o.path = path;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        die("qk_tracker_new (%s): %s", kind, qk_errmsg());
    return t;
}

static uint64_t held(qk_tracker *t)
{
    qk_store_service_info si[1];
    qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = si, .cap = 1};
    if (qk_store_status(t, &info) != QK_OK)
        die("qk_store_status: %s", qk_errmsg());
    return si[0].windows[0].held;
}

/* The calls, each kind in a function of its own: callgrind counts them by name. */
#define MEASURE(name, call)                                                                        \
    __attribute__((noinline)) static void name(qk_tracker *t, uint64_t n)                          \
    {                                                                                              \
        for (uint64_t i = 0; i < n; i++)                                                           \
            if (call != QK_OK)                                                                     \
                die(#name ": %s", qk_errmsg());                                                    \
    }
MEASURE(measure_consume_private, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_consume_store, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_record_private, qk_record(t, 0, 1, NULL))
MEASURE(measure_record_store, qk_record(t, 0, 1, NULL))
MEASURE(measure_consume_file, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_record_file, qk_record(t, 0, 1, NULL))
#undef MEASURE

/* Grows the lease until it holds enough for every measured call: by use, which raises the
 * host's rate, and the sync thread's grants, which follow it (qk_store_sync would give the
 * lease back). Bounded: 1000 rounds of 10 ms pauses at most. */
static void warm_up(qk_tracker *t, uint64_t need)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 1000 && held(t) < need; i++) {
        for (int k = 0; k < 20000; k++) /* not measure_consume_store: callgrind counts that */
            if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
                die("warming up: %s", qk_errmsg());
        nanosleep(&pause, NULL);
    }
    if (held(t) < need)
        die("the lease never reached %" PRIu64 " calls (%" PRIu64 ")", need, held(t));
}

int main(int argc, char **argv)
{
    uint64_t ops = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = strtoull(argv[++i], NULL, 10);
        else
            die("usage: qk_checks_budget_calls [--ops N]");
    }
    if (ops == 0 || ops > 1000000)
        die("--ops must be 1 to 1000000");
    qkt_server redis;
    if (qkt_server_start(&redis, QKT_REDIS, NULL) != 0)
        die("redis-server: %s", redis.error);
    char url[64], path[PATH_MAX];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis.port);
    qkt_tmpdir_make(file_dir, "qk-budget");
    qk_tracker *p = open_tracker("private", NULL, NULL), *s = open_tracker("store", url, NULL),
               *f = open_tracker("file", NULL, qkt_path(path, file_dir, "budget.qk"));
    /* A lease for every measured store call, so the sync thread is never woken while counted. */
    warm_up(s, ops * 2 + ops / 2);
    measure_consume_private(p, ops);
    measure_consume_store(s, ops);
    measure_record_private(p, ops);
    measure_record_store(s, ops);
    measure_consume_file(f, ops);
    measure_record_file(f, ops);
    qk_tracker_free(f);
    qk_tracker_free(s);
    qk_tracker_free(p);
    if (qkt_server_stop(&redis) != 0)
        die("redis-server: %s", redis.error);
    if (qkt_tmpdir_remove(file_dir) != 0)
        die("could not remove %s", file_dir);
    file_dir[0] = '\0';
    printf("ops: %" PRIu64 "\n", ops);
    return 0;
}
