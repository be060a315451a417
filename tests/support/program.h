/* Plain test programs (the stress programs, later the fleet): sized from argv or the environment,
 * a tracker on a clock the program controls, and what helgrind must not check.
 *
 * A program exits 0 when every invariant held, 1 otherwise (qkt_verdict), 2 when it could not
 * run. Sizes come from argv, else from the environment, else from a default, so the same program
 * runs large in a normal build and small under helgrind. */
#ifndef QKT_PROGRAM_H
#define QKT_PROGRAM_H

#include <stddef.h>

#include "clock.h"
#include "quotakeeper.h"

/* Helgrind does not model C11 atomics: a relaxed atomic store and load in two threads look like
 * a race to it. A program's own progress counters (read by a watchdog or a progress report,
 * deciding nothing but what is printed and when a stall is declared) are excluded from its
 * checking with this client request, which is a no-op outside valgrind. The library's memory is
 * never excluded. */
#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define QKT_HG_IGNORE(addr, len) VALGRIND_HG_DISABLE_CHECKING(addr, len)
#endif
#endif
#ifndef QKT_HG_IGNORE
#define QKT_HG_IGNORE(addr, len) ((void)(addr), (void)(len))
#endif

/* Size parameter i: argv[i] if given, else $env, else def. A bad value exits 2. */
long qkt_param(int argc, char **argv, int i, const char *env, long def);

/* Options for a tracker over defs[0..n) on the clock the test controls; the caller sets
 * whatever else it needs (events, capacity). */
qk_options qkt_clocked_options(const qk_service_def *defs, size_t n, qkt_clock *now);

/* Makes the tracker under test in *t (written by qk_tracker_new itself, so an event payload may
 * point at t). Without one there is nothing to test: the failure is recorded and the program
 * exits 1 at once, with no verdict. */
void qkt_tracker_new_or_exit(qk_tracker **t, const qk_options *opts);

#endif
