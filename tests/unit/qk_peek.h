/* Reading a tracker's usage in a Criterion test: shared by the unit suites (qk_test.h) and the
 * state-file suites (tests/state/state_test.h). */
#ifndef QK_PEEK_H
#define QK_PEEK_H

#include <criterion/criterion.h>
#include <string.h>

#include "quotakeeper.h"

/* The usage of service s; the test fails if qk_peek does. */
static inline qk_usage peek(qk_tracker *t, qk_service s)
{
    qk_usage u;
    memset(&u, 0, sizeof u);
    const int rc = qk_peek(t, s, &u);
    cr_assert_eq(rc, QK_OK, "qk_peek(%u): %s", s, qk_errmsg());
    return u;
}

static inline uint64_t used_of(qk_tracker *t, qk_service s, unsigned w)
{
    return peek(t, s).windows[w].used;
}

#endif
