/* The validators, run before a strategy is timed: a strategy that fails one is not timed.
 * totals: threads record known counts; every one must be counted.
 * limit:  threads consume past every limit; exactly the limit is granted.
 * cut:    writers record services in rounds while a monitor snapshots; a consistent cut never
 *         shows a later service ahead of an earlier one by more than one per writer.
 * Each adds a "check" row (results.h); what counts as passing is the strategy's snapshot kind. */
#ifndef QK_PERF_VALIDATE_H
#define QK_PERF_VALIDATE_H

#include <stdbool.h>

#include "strategies.h"
#include "workload.h"

/* Runs the three checks on sv with n_threads threads of n_ops operations each. */
bool validate(const perf_strategy *st, const services *sv, unsigned n_threads, unsigned n_ops);

#endif
