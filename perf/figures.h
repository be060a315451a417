/* The figures: the targets the issue set, as one table (figures.c). qk_perf takes the runs
 * the table needs back to back before the rest, computes each figure from them and writes
 * them as CSV, which perf/report.awk renders row by row without knowing any figure. */
#ifndef QK_PERF_FIGURES_H
#define QK_PERF_FIGURES_H

#include "options.h"
#include "strategies.h"

/* The figure runs: every (strategy, cell) the table names, o->figure_reps times over, the
 * strategies of a cell back to back and a different one first each time. */
void figures_run(const options *o, const perf_strategy *const *timed, unsigned n_timed);

/* Computes every figure from the kept results (the figure runs, and the grid for the figures
 * that range over it) and writes them to o->figures_path, with a line each on stderr. */
void figures_write(const options *o, const perf_strategy *const *timed, unsigned n_timed);

#endif
