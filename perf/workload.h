/* The workloads: which services each thread works on, and the services themselves. A cell is
 * one point of the grid (workload, services, threads, snapshot rate); a run is one strategy
 * in one cell. */
#ifndef QK_PERF_WORKLOAD_H
#define QK_PERF_WORKLOAD_H

#include "harness.h"

/* W_GRANT: try_consume under a limit no run reaches (PERF_GRANT_LIMIT), every grant kept, each
 * thread on its own service (of the spec's 3): what a fleet's hosts do far from their limits,
 * and the one local workload the store strategies run. */
typedef enum {
    W_DISJOINT,
    W_HOT,
    W_MIX,
    W_CONSUME,
    W_SNAPSHOT,
    W_OVERSUB,
    W_GRANT,
    W_COUNT
} workload;
extern const char *const workload_names[W_COUNT];

#define PERF_GRANT_LIMIT 1000000000000000ull

#define RATE_MAX (-1) /* snapshots back to back */

typedef struct {
    workload w;
    unsigned services, threads;
    int rate; /* snapshots per second, W_SNAPSHOT only; 0 elsewhere */
} cell;

/* The spec's three services and their limits; larger counts get generic ones. */
typedef struct {
    perf_setup setup;
    char names[PERF_MAX_SERVICES][16];
    const char *name_ptrs[PERF_MAX_SERVICES];
    uint64_t limits[PERF_MAX_SERVICES];
} services;

void make_services(services *sv, unsigned n);

/* Whether strategy st runs in workload w: a store strategy only in the grant workload, which
 * takes the store strategies and the subject (`sharded`, quotakeeper without a store). */
bool workload_takes(workload w, bool store_strategy, bool subject);

/* Which services worker i of cell c visits, PERF_PATTERN_LEN at a time. */
void fill_pattern(const cell *c, unsigned i, uint32_t *pattern);

#endif
