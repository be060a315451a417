/* Helpers shared by the unit suites (qk_test.h) and the state-file suites
 * (tests/state/state_test.h): a service definition, and reading a tracker's usage. */
#ifndef QK_SHARED_H
#define QK_SHARED_H

#include <criterion/criterion.h>
#include <string.h>

#include "quotakeeper.h"

/* A one-service definition with up to two windows (limit 0 ends the list). */
static inline qk_service_def svc_def(const char *name, qk_period p0, uint64_t l0, qk_period p1,
                                     uint64_t l1)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.windows[0].period = p0;
    d.windows[0].limit = l0;
    d.windows[1].period = p1;
    d.windows[1].limit = l1;
    return d;
}

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
