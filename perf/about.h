/* `qk_perf --about`: how this binary was built and what the machine's clock and mutex cost,
 * as "key: value" lines for run.sh's machine.txt. */
#ifndef QK_PERF_ABOUT_H
#define QK_PERF_ABOUT_H

#include <stdint.h>

void print_about(uint64_t clock_pair_ns);

#endif
