/* qk_rolling_cost: what a record or consume costs on a one-window rolling service against the
 * same call on a fixed window of the same length (issue 22: at most 1.3x for a record), both on
 * private trackers on the system clock, so a rolling window slides as it would in use (every
 * 20 ms for a second, every 1.2 s for a minute):
 *
 *   qk_rolling_cost [--ops N]   N calls of each kind on each tracker, in functions named
 *                               measure_<op>_<shape> for callgrind (perf/rolling-cost.sh)
 *   qk_rolling_cost --time      rolling / fixed CPU time per call, interleaved in one thread:
 *                               median, min, max of 15 chunks, for a second and a minute */
#include <inttypes.h>
#include <quotakeeper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost_args.h"
#include "harness.h"
#include "time_ratio.h"

/* One window no run fills. */
static qk_tracker *shape_tracker(qk_period p, unsigned flags)
{
    qk_service_def def = {.name = "cost", .windows = {{p, UINT64_C(1) << 50, .flags = flags}}};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &def;
    o.n_services = 1;
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        perf_die("qk_tracker_new: %s", qk_errmsg());
    return t;
}

#define MEASURE(name, call)                                                                        \
    __attribute__((noinline)) static void name(qk_tracker *t, uint64_t n)                          \
    {                                                                                              \
        for (uint64_t i = 0; i < n; i++)                                                           \
            if (call != QK_OK)                                                                     \
                perf_die(#name ": %s", qk_errmsg());                                               \
    }
MEASURE(measure_record_fixed, qk_record(t, 0, 1, NULL))
MEASURE(measure_record_rolling, qk_record(t, 0, 1, NULL))
MEASURE(measure_consume_fixed, qk_try_consume(t, 0, 1, 0, NULL))
MEASURE(measure_consume_rolling, qk_try_consume(t, 0, 1, 0, NULL))
#undef MEASURE

int main(int argc, char **argv)
{
    const cost_args args = cost_args_parse(argc, argv, "qk_rolling_cost");
    const int timed = args.timed;
    const uint64_t ops = args.ops;
    static const struct {
        qk_period p;
        const char *name;
    } lengths[] = {{QK_SECOND, "second"}, {QK_MINUTE, "minute"}};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        qk_tracker *fixed = shape_tracker(lengths[k].p, 0),
                   *rolling = shape_tracker(lengths[k].p, QK_WINDOW_ROLLING);
        if (timed) {
            char label[64];
            snprintf(label, sizeof label, "rolling / fixed %s", lengths[k].name);
            time_ratio("qk_record", label, measure_record_fixed, measure_record_rolling, fixed,
                       rolling);
            time_ratio("qk_try_consume", label, measure_consume_fixed, measure_consume_rolling,
                       fixed, rolling);
        } else if (k == 0) { /* callgrind counts the second: the most slides */
            measure_record_fixed(fixed, ops);
            measure_record_rolling(rolling, ops);
            measure_consume_fixed(fixed, ops);
            measure_consume_rolling(rolling, ops);
            printf("ops: %" PRIu64 "\n", ops);
        }
        qk_tracker_free(rolling);
        qk_tracker_free(fixed);
    }
    return 0;
}
