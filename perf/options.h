/* The command line: presets, options, and what qk_perf is asked to do. */
#ifndef QK_PERF_OPTIONS_H
#define QK_PERF_OPTIONS_H

#include <stdbool.h>

#include "strategies.h"
#include "workload.h"

#define MAX_LIST 32

typedef struct {
    unsigned v[MAX_LIST];
    unsigned n;
} uint_list;

typedef enum { DO_RUN, DO_ABOUT, DO_LIST, DO_HELP } perf_action;

typedef struct {
    perf_action action;
    unsigned n_cores; /* online when qk_perf started: the defaults scale with it */
    double duration_s;
    unsigned reps;
    unsigned figure_reps; /* repetitions of the paired figure runs */
    uint_list threads, services, writers;
    int rates[MAX_LIST];
    unsigned n_rates;
    unsigned oversub_threads;
    bool workload_on[W_COUNT];
    const perf_strategy *strategies[MAX_LIST];
    unsigned n_strategies;
    unsigned validate_threads;
    unsigned validate_ops; /* per validating thread */
    bool validate_only;
    const char *figures_path; /* where the figures CSV goes; NULL: stderr only */
    const char *lease_path;   /* where the lease experiment's CSV goes (lease.h); NULL: not run */
    uint_list lease_sizes;    /* its lease_max values; 0 is adaptive */
    unsigned lease_consumes;  /* its consumes per lease size */
} options;

/* Fills o from the command line; exits with a usage message on a bad one. */
void options_parse(options *o, int argc, char **argv);

void usage(FILE *f);

/* The most threads any run of o uses. */
unsigned options_max_threads(const options *o);

#endif
