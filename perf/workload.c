/* The workloads' services and access patterns (workload.h). */
#include <stdio.h>

#include "workload.h"

const char *const workload_names[W_COUNT] = {"disjoint",       "hot",  "mix", "consume", "snapshot",
                                             "oversubscribed", "grant"};

bool workload_takes(workload w, bool store_strategy, bool subject)
{
    return w == W_GRANT ? store_strategy || subject : !store_strategy;
}

void make_services(services *sv, unsigned n)
{
    static const char *const spec_names[] = {"tiingo", "finnhub", "sendgrid"};
    static const uint64_t spec_limits[] = {500, 60, 100};
    if (n > PERF_MAX_SERVICES)
        perf_die("at most %d services", PERF_MAX_SERVICES);
    for (unsigned s = 0; s < n; s++) {
        if (n == 3) {
            snprintf(sv->names[s], sizeof sv->names[s], "%s", spec_names[s]);
            sv->limits[s] = spec_limits[s];
        } else {
            snprintf(sv->names[s], sizeof sv->names[s], "svc-%03u", s);
            sv->limits[s] = 1000;
        }
        sv->name_ptrs[s] = sv->names[s];
    }
    sv->setup = (perf_setup){n, sv->name_ptrs, sv->limits};
}

void fill_pattern(const cell *c, unsigned i, uint32_t *pattern)
{
    /* The spec's production mix: every ticker costs one tiingo and one finnhub call, alerts
     * an occasional sendgrid mail (7:7:2), rotated per thread so they do not move in step. */
    static const uint32_t mix[PERF_PATTERN_LEN] = {0, 1, 0, 1, 0, 1, 2, 0, 1, 0, 1, 0, 1, 0, 1, 2};
    for (unsigned k = 0; k < PERF_PATTERN_LEN; k++) {
        switch (c->w) {
        case W_HOT:
            pattern[k] = 0;
            break;
        case W_MIX:
            pattern[k] = mix[(k + i) % PERF_PATTERN_LEN];
            break;
        case W_OVERSUB: /* the spec's test: half the threads on one service, half on another */
            pattern[k] = i % 2;
            break;
        default: /* disjoint, consume, grant, snapshot writers: each thread its own service */
            pattern[k] = i % c->services;
            break;
        }
    }
}
