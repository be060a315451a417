/* The timed runs: one strategy in one cell, fresh state and fresh threads, released together
 * and stopped after a fixed time; every run checks its final counts. */
#ifndef QK_PERF_RUNNER_H
#define QK_PERF_RUNNER_H

#include <pthread.h>

#include "strategies.h"
#include "workload.h"

/* Measures the clock pair taken off every latency sample and returns it (ns); call first. */
uint64_t runner_calibrate(void);

/* Sizes the per-thread buffers for runs of up to max_threads workers. */
void runner_init(unsigned max_threads);

/* Runs st in c for duration_s and adds its row (results.h) under phase "fig" or "grid". */
void run_one(const perf_strategy *st, const cell *c, double duration_s, unsigned rep,
             const char *phase);

/* pthread_create with a small stack (runs have up to a thousand threads); dies on failure. */
void spawn(pthread_t *tid, void *(*fn)(void *), void *arg);

#endif
