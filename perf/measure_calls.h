/* The measured calls that perf/consume_cost.c and the hot-path budget test
 * (tests/checks/budget_calls.c) share, so that their figures are the same calls: a tracker with
 * one QK_FOREVER window no run fills, the loops callgrind counts by name (measure_<op>_<tracker>),
 * and the warm-up that grows a store tracker's lease past every measured call. The includer
 * defines MEASURE_DIE(fmt, ...), which reports and exits. */
#ifndef QK_PERF_MEASURE_CALLS_H
#define QK_PERF_MEASURE_CALLS_H

#include <inttypes.h>
#include <quotakeeper.h>
#include <stdio.h>
#include <time.h>

/* A tracker named <prefix>.<time>.<kind>; url NULL: no store; path NULL: private memory. */
static qk_tracker *measure_tracker(const char *prefix, const char *kind, const char *url,
                                   const char *path)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%ld.%s", prefix, (long)time(NULL), kind);
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
        MEASURE_DIE("qk_tracker_new (%s): %s", kind, qk_errmsg());
    return t;
}

/* The lease a store tracker holds in its one window. */
static uint64_t measure_held(qk_tracker *t)
{
    qk_store_service_info si[1];
    qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = si, .cap = 1};
    if (qk_store_status(t, &info) != QK_OK)
        MEASURE_DIE("qk_store_status: %s", qk_errmsg());
    return si[0].windows[0].held;
}

/* The calls, each kind in a function of its own: callgrind counts them by name. */
#define MEASURE(name, call)                                                                        \
    __attribute__((noinline, unused)) static void name(qk_tracker *t, uint64_t n)                  \
    {                                                                                              \
        for (uint64_t i = 0; i < n; i++)                                                           \
            if (call != QK_OK)                                                                     \
                MEASURE_DIE(#name ": %s", qk_errmsg());                                            \
    }
MEASURE(measure_consume_private, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_consume_store, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_record_private, qk_record(t, 0, 1, NULL))
MEASURE(measure_record_store, qk_record(t, 0, 1, NULL))
MEASURE(measure_consume_file, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_record_file, qk_record(t, 0, 1, NULL))
#undef MEASURE

/* Grows the lease until it holds `need` calls: by use (per_round consumes, then 10 ms), which
 * raises the host's rate, and the sync thread's grants, which follow it (qk_store_sync would give
 * the lease back). Bounded: 1000 rounds at most. */
static void measure_warm_up(qk_tracker *t, uint64_t need, int per_round)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 1000 && measure_held(t) < need; i++) {
        for (int k = 0; k < per_round; k++) /* not measure_consume_store: callgrind counts that */
            if (qk_try_consume(t, 0, 1, 0, NULL) != QK_OK)
                MEASURE_DIE("warming up: %s", qk_errmsg());
        nanosleep(&pause, NULL);
    }
    if (measure_held(t) < need)
        MEASURE_DIE("the lease never reached %" PRIu64 " calls (%" PRIu64 ")", need,
                    measure_held(t));
}

#endif
