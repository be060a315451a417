/* How a test fails, without Criterion (which aborts under ThreadSanitizer).
 *
 * Two kinds of failure:
 * - a broken invariant (CHECK, CHECK_RC, qkt_fail): recorded and printed, and the program goes on
 *   so that one run reports every violation; qkt_verdict() turns the count into the exit status;
 * - a test that cannot go on (QKT_REQUIRE, qkt_die: a fork, a file, a server that failed): the
 *   die handler runs. By default it prints and exits 2; a Criterion suite installs one that fails
 *   the current test (qkt_criterion.h), so a helper failing inside a test is that test's
 *   failure, never a skip. */
#ifndef QKT_FAIL_H
#define QKT_FAIL_H

#include <stddef.h>

#include "quotakeeper.h"

/* Records a broken invariant; printing stops after a few lines, counting does not. */
__attribute__((format(printf, 3, 4))) void qkt_fail(const char *file, int line, const char *fmt,
                                                    ...);

/* The number of qkt_fail calls so far, in every thread. */
int qkt_failures(void);

/* Prints "<name>: ok" or "<name>: FAILED (...)" and returns the exit status, 0 or 1. */
int qkt_verdict(const char *name);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            qkt_fail(__FILE__, __LINE__, __VA_ARGS__);                                             \
    } while (0)

/* A qk_ call that must return want. */
#define CHECK_RC(call, want)                                                                       \
    do {                                                                                           \
        const int rc_ = (call);                                                                    \
        if (rc_ != (want))                                                                         \
            qkt_fail(__FILE__, __LINE__, "%s returned %d (%s), wanted %d: %s", #call, rc_,         \
                     qk_strerror(rc_), (int)(want), qk_errmsg());                                  \
    } while (0)

/* Receives the message of a failure the test cannot go on from; must not return. */
typedef void (*qkt_die_handler)(const char *file, int line, const char *msg);

/* Replaces the die handler; NULL restores the default (print, exit 2). */
void qkt_set_die_handler(qkt_die_handler fn);

__attribute__((format(printf, 3, 4), noreturn)) void qkt_die(const char *file, int line,
                                                             const char *fmt, ...);

#define QKT_REQUIRE(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            qkt_die(__FILE__, __LINE__, __VA_ARGS__);                                              \
    } while (0)

/* calloc that dies instead of returning NULL; n == 0 still gives a block. */
void *qkt_calloc(size_t n, size_t size);

#endif
