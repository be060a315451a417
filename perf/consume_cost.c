/* qk_consume_cost: what one qk_try_consume or qk_record costs on a tracker with a store and a
 * lease in hand, against the same call on a private tracker, two ways that a shared machine's
 * noise cannot blur the way it blurs qk_perf's separate runs (docs/perf/hot-path.md):
 *
 *   qk_consume_cost [--ops N]   N calls of each kind on each tracker, in four functions named
 *                               measure_<op>_<tracker> for callgrind to count
 *                               (perf/consume-cost.sh runs it so and prints instructions per call)
 *   qk_consume_cost --time      store / private CPU time per call, the two trackers interleaved
 *                               in chunks of 2M calls in one thread: median, min, max of 15
 *
 * Both trackers have one QK_FOREVER window with a limit no run reaches; the store is a
 * redis-server that this program starts on a free loopback port, and the store tracker is
 * warmed until it holds a lease of millions of calls, so no measured call waits for a sync. */
#include <inttypes.h>
#include <quotakeeper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cost_args.h"
#include "harness.h"
#include "redis_server.h"

#define MEASURE_DIE(...) perf_die(__VA_ARGS__)
#include "measure_calls.h"
#include "time_ratio.h"

int main(int argc, char **argv)
{
    const cost_args args = cost_args_parse(argc, argv, "qk_consume_cost");
    const int timed = args.timed;
    const uint64_t ops = args.ops;
    char err[256];
    if (perf_redis_start(err, sizeof err) != 0)
        perf_die("redis-server: %s", err);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", perf_redis_port());
    qk_tracker *p = measure_tracker("cost", "private", NULL, NULL),
               *s = measure_tracker("cost", "store", url, NULL);
    /* Counted: a lease for every call, so the sync thread is never woken while callgrind counts.
     * Timed: a few chunks' worth; the sync thread refills it (about 10 s of use a time) without
     * any measured call waiting, and a slow machine still gets there. */
    const uint64_t need = timed ? (uint64_t)TIME_CHUNK * 4 : ops * 2 + ops / 2;
    measure_warm_up(s, need, 200000);
    if (timed) {
        time_ratio("qk_try_consume", "store / private", measure_consume_private,
                   measure_consume_store, p, s);
        time_ratio("qk_record", "store / private", measure_record_private, measure_record_store, p,
                   s);
    } else {
        measure_consume_private(p, ops);
        measure_consume_store(s, ops);
        measure_record_private(p, ops);
        measure_record_store(s, ops);
        printf("ops: %" PRIu64 "\n", ops);
    }
    qk_tracker_free(s);
    qk_tracker_free(p);
    return 0;
}
