/* CPU time per call of one tracker against another, interleaved in one thread so that a shared
 * machine's noise hits both alike (docs/perf/hot-path.md): perf/consume_cost.c (store against
 * private) and perf/rolling_cost.c (rolling against fixed windows). */
#ifndef QK_PERF_TIME_RATIO_H
#define QK_PERF_TIME_RATIO_H

#include <quotakeeper.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TIME_CHUNK 2000000
#define TIME_REPS  15

static double time_ratio_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int time_ratio_by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prints "<op>: <label> CPU time per call: median (min, max)" of on_b(b) over on_a(a), each
 * ratio from one chunk of TIME_CHUNK calls of each, TIME_REPS times; returns the median. */
static double time_ratio(const char *op, const char *label, void (*on_a)(qk_tracker *, uint64_t),
                         void (*on_b)(qk_tracker *, uint64_t), qk_tracker *a, qk_tracker *b)
{
    double ratio[TIME_REPS];
    for (int r = 0; r < TIME_REPS; r++) {
        /* Alternating which goes first, so a slow spell hits both alike. */
        double ns[2];
        for (int k = 0; k < 2; k++) {
            const int second = (k + r) % 2;
            const double t0 = time_ratio_cpu_ns();
            (second ? on_b : on_a)(second ? b : a, TIME_CHUNK);
            ns[second] = (time_ratio_cpu_ns() - t0) / TIME_CHUNK;
        }
        ratio[r] = ns[1] / ns[0];
    }
    qsort(ratio, TIME_REPS, sizeof ratio[0], time_ratio_by_value);
    printf("%s: %s CPU time per call: %.3f (min %.3f, max %.3f, %d chunks of %d)\n", op, label,
           ratio[TIME_REPS / 2], ratio[0], ratio[TIME_REPS - 1], TIME_REPS, TIME_CHUNK);
    return ratio[TIME_REPS / 2];
}

#endif
