/* The command line that qk_rolling_cost and qk_consume_cost share: `[--ops N] | --time`. N calls
 * of each kind for callgrind to count (100,000 unless told), or the interleaved timing. */
#ifndef QK_PERF_COST_ARGS_H
#define QK_PERF_COST_ARGS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct {
    int timed;    /* --time */
    uint64_t ops; /* --ops N, at least 1 */
} cost_args;

/* Dies with the usage, named for program, on anything else. */
static inline cost_args cost_args_parse(int argc, char **argv, const char *program)
{
    cost_args a = {0, 100000};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--time") == 0)
            a.timed = 1;
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            a.ops = strtoull(argv[++i], NULL, 10);
        else
            perf_die("usage: %s [--ops N] | --time", program);
    }
    if (a.ops == 0)
        perf_die("--ops must be at least 1");
    return a;
}

#endif
