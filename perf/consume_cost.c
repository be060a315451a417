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

#include "harness.h"
#include "redis_server.h"

#define TIME_CHUNK 2000000
#define TIME_REPS  15

static qk_tracker *open_tracker(const char *url)
{
    char name[64];
    snprintf(name, sizeof name, "cost.%ld.%s", (long)time(NULL), url ? "store" : "private");
    qk_service_def def = {
        .name = name, .windows = {{QK_FOREVER, UINT64_C(1) << 50}}, .lease_max = UINT64_C(1) << 28};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &def;
    o.n_services = 1;
    o.store = url;
    o.store_timeout_ms = 2000;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        perf_die("qk_tracker_new: %s", qk_errmsg());
    return t;
}

static uint64_t held(qk_tracker *t)
{
    qk_store_service_info si[1];
    qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = si, .cap = 1};
    if (qk_store_status(t, &info) != QK_OK)
        perf_die("qk_store_status: %s", qk_errmsg());
    return si[0].windows[0].held;
}

/* The calls, each kind in a function of its own: callgrind counts them by name. */
#define MEASURE(name, call)                                                                        \
    __attribute__((noinline)) static void name(qk_tracker *t, uint64_t n)                          \
    {                                                                                              \
        for (uint64_t i = 0; i < n; i++)                                                           \
            if (call != QK_OK)                                                                     \
                perf_die(#name ": %s", qk_errmsg());                                               \
    }
MEASURE(measure_consume_private, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_consume_store, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_record_private, qk_record(t, 0, 1, NULL))
MEASURE(measure_record_store, qk_record(t, 0, 1, NULL))
#undef MEASURE

/* Grows the lease until it holds enough for every measured call: by use, which raises the
 * host's rate, and the sync thread's grants, which follow it (qk_store_sync would give the
 * lease back). */
static void warm_up(qk_tracker *t, uint64_t need)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 1000 && held(t) < need; i++) {
        for (int k = 0; k < 200000; k++) /* not measure_consume_store: callgrind counts that */
            if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
                perf_die("warming up: %s", qk_errmsg());
        nanosleep(&pause, NULL);
    }
    if (held(t) < need)
        perf_die("the lease never reached %" PRIu64 " calls (%" PRIu64 ")", need, held(t));
}

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void time_ratio(const char *op, void (*on_private)(qk_tracker *, uint64_t),
                       void (*on_store)(qk_tracker *, uint64_t), qk_tracker *p, qk_tracker *s)
{
    double ratio[TIME_REPS];
    for (int r = 0; r < TIME_REPS; r++) {
        /* Alternating which goes first, so a slow spell hits both alike. */
        double ns[2];
        for (int k = 0; k < 2; k++) {
            const int store = (k + r) % 2;
            const double t0 = thread_cpu_ns();
            (store ? on_store : on_private)(store ? s : p, TIME_CHUNK);
            ns[store] = (thread_cpu_ns() - t0) / TIME_CHUNK;
        }
        ratio[r] = ns[1] / ns[0];
    }
    qsort(ratio, TIME_REPS, sizeof ratio[0], by_value);
    printf("%s: store / private CPU time per call: %.3f (min %.3f, max %.3f, %d chunks of %d)\n",
           op, ratio[TIME_REPS / 2], ratio[0], ratio[TIME_REPS - 1], TIME_REPS, TIME_CHUNK);
}

int main(int argc, char **argv)
{
    int timed = 0;
    uint64_t ops = 100000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--time") == 0)
            timed = 1;
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = strtoull(argv[++i], NULL, 10);
        else
            perf_die("usage: qk_consume_cost [--ops N] | --time");
    }
    if (ops == 0)
        perf_die("--ops must be at least 1");
    char err[256];
    if (perf_redis_start(err, sizeof err) != 0)
        perf_die("redis-server: %s", err);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", perf_redis_port());
    qk_tracker *p = open_tracker(NULL), *s = open_tracker(url);
    /* Counted: a lease for every call, so the sync thread is never woken while callgrind counts.
     * Timed: a few chunks' worth; the sync thread refills it (about 10 s of use a time) without
     * any measured call waiting, and a slow machine still gets there. */
    const uint64_t need = timed ? (uint64_t)TIME_CHUNK * 4 : ops * 2 + ops / 2;
    warm_up(s, need);
    if (timed) {
        time_ratio("qk_try_consume", measure_consume_private, measure_consume_store, p, s);
        time_ratio("qk_record", measure_record_private, measure_record_store, p, s);
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
