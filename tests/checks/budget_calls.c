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

#define MEASURE_DIE(...) die(__VA_ARGS__)
#include "measure_calls.h"

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
    qk_tracker *p = measure_tracker("budget", "private", NULL, NULL),
               *s = measure_tracker("budget", "store", url, NULL),
               *f = measure_tracker("budget", "file", NULL, qkt_path(path, file_dir, "budget.qk"));
    /* A lease for every measured store call, so the sync thread is never woken while counted. */
    measure_warm_up(s, ops * 2 + ops / 2, 20000);
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
