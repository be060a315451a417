/* Clocks a test controls, for qk_options.clock, and the monotonic time for the test's own
 * timeouts.
 *
 * The clock is read and moved with relaxed atomics: any thread (or process, in shared memory)
 * may move it while others read, without a race, and without adding a happens-before edge
 * between them that ThreadSanitizer or helgrind would then credit to the library. */
#ifndef QKT_CLOCK_H
#define QKT_CLOCK_H

#include <stdint.h>

/* 2026-01-09T12:00:00Z: a fixed instant, the first millisecond of a minute. */
#define QKT_T0_MS INT64_C(1767960000000)

#define QKT_MIN  INT64_C(60000)
#define QKT_HOUR INT64_C(3600000)
#define QKT_DAY  INT64_C(86400000)

/* Milliseconds since the epoch; initialise with {ms}. */
typedef struct {
    _Atomic int64_t ms;
} qkt_clock;

/* For qk_options.clock, with clock_ctx pointing at a qkt_clock. */
int64_t qkt_clock_read(void *ctx);

void qkt_clock_set(qkt_clock *c, int64_t ms);

/* Moves the clock by delta ms and returns the new time. */
int64_t qkt_clock_advance(qkt_clock *c, int64_t delta);

/* CLOCK_MONOTONIC in ms: for the test's own deadlines, never for a tracker. */
int64_t qkt_mono_ms(void);

#endif
