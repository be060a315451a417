/* Results: one row per run or validator check, printed as CSV on stdout as it comes and kept,
 * so that the figures can be computed from the runs behind them at the end. */
#ifndef QK_PERF_RESULTS_H
#define QK_PERF_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strategies.h"
#include "workload.h"

typedef struct {
    const perf_strategy *strategy;
    const char *workload; /* a workload's name, or a validator's (check-totals, ...) */
    cell cell;            /* the run's cell; for checks, only services and threads */
    unsigned rep;
    uint64_t ops;
    double seconds;
    double cpu_ns_per_op;
    uint64_t p50_ns, p99_ns;
    uint64_t snaps, snap_p50_ns, snap_p99_ns;
    uint64_t lost, limit_violations, torn, refused;
    uint64_t store_ops; /* exchanges with the shared store during the run (store strategies) */
    double cores_used;  /* CPU time of the workers over the window: how many cores they got */
    const char *phase;  /* "check": validators; "fig": the paired figure runs; "grid": the rest */
    const char *verdict;
} perf_result;

/* What a figure can compare; the names are results.csv's columns. */
typedef enum {
    M_OPS_PER_S,
    M_CPU_NS_PER_OP,
    M_SNAP_P50_NS,
    M_SNAP_P99_NS,
    M_STORE_OPS_PER_OP,
    M_COUNT
} perf_metric;
extern const char *const metric_names[M_COUNT];
double result_metric(const perf_result *r, perf_metric m);

/* An exact strategy must be exact; racy is expected to lose, and atomic to tear. */
const char *verdict(const perf_strategy *st, uint64_t lost, uint64_t violations, uint64_t torn);

void results_header(void);

/* Prints r as a CSV line and keeps a copy. */
void results_add(const perf_result *r);

/* Whether any row so far failed its verdict. */
bool results_failed(void);

/* The kept timed run of st in c, repetition rep, phase "fig" or "grid"; NULL if none. */
const perf_result *results_find(const char *phase, const perf_strategy *st, const cell *c,
                                unsigned rep);

/* The p-th percentile of v[0..n-1] (sorts v in place); 0 when n is 0. */
uint64_t percentile(uint64_t *v, size_t n, double p);
double median_double(double *v, size_t n);

#endif
