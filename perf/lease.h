/* The lease experiment (issue 8, "Performance"): what a lease costs in quota. For each lease
 * size (lease_max; 0 is the adaptive lease), one host, a tracker with the store, consumes N
 * calls one at a time on a fresh service whose limit no run reaches; then its window "ends"
 * there. What it holds and has not used (qk_store_status's held), and the store's G - U, are
 * the calls granted and not used at that moment: what a host that died then would strand until
 * the window ended, and what qk_tracker_free or qk_store_sync gives back. Beside it, store
 * operations per consume, about one per lease.
 * CSV: lease_max,consumes,seconds,store_ops,store_ops_per_consume,held,store_granted,
 *      store_used,unused */
#ifndef QK_PERF_LEASE_H
#define QK_PERF_LEASE_H

#include "options.h"

/* Runs it over o->lease_sizes and writes o->lease_path; a line per size on stderr. */
void lease_experiment(const options *o);

#endif
