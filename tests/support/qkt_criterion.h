/* Criterion-only conveniences over the support library. Include it from Criterion suites only:
 * the library itself never depends on Criterion, so plain programs (which run under
 * ThreadSanitizer, where Criterion aborts) use the same helpers.
 *
 * Including it routes a support helper's fatal failure (qkt_die) to cr_assert_fail, so that a
 * helper failing inside a test fails that test. Each Criterion test runs in its own process, so
 * file statics are per test. */
#ifndef QKT_CRITERION_H
#define QKT_CRITERION_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "evrec.h"
#include "fail.h"
#include "procs.h"
#include "quotakeeper.h"
#include "usage.h"

static void qkt_cr_die(const char *file, int line, const char *msg)
{
    cr_assert_fail("%s:%d: %s", file, line, msg);
    abort(); /* not reached: a failed assertion ends the test */
}

__attribute__((constructor)) static void qkt_cr_install(void)
{
    qkt_set_die_handler(qkt_cr_die);
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

/* A private tracker over defs[0..n), on clk and recording events in log when they are given. */
static inline qk_tracker *new_tracker(const qk_service_def *defs, size_t n, size_t capacity,
                                      qkt_clock *clk, qkt_evrec *log)
{
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = n;
    o.capacity = capacity;
    if (clk != NULL) {
        o.clock = qkt_clock_read;
        o.clock_ctx = clk;
    }
    if (log != NULL) {
        o.on_event = qkt_evrec_fn;
        o.payload = log;
    }
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    cr_assert_eq(rc, QK_OK, "qk_tracker_new: %s", qk_errmsg());
    cr_assert_not_null(t);
    return t;
}

/* Asserts event i of the recorder. */
#define assert_event(l, i, svc, win, from_, to_, used_, limit_)                                    \
    do {                                                                                           \
        cr_assert_gt((l)->n, (size_t)(i), "expected at least %zu events, got %zu",                 \
                     (size_t)(i) + 1, (l)->n);                                                     \
        const qk_event *e_ = &(l)->ev[(i)];                                                        \
        cr_assert_eq(e_->service, (qk_service)(svc), "event %d: service", (int)(i));               \
        cr_assert_eq(e_->window, (unsigned)(win), "event %d: window", (int)(i));                   \
        cr_assert_eq(e_->from, (from_), "event %d: from %s", (int)(i), qk_level_name(e_->from));   \
        cr_assert_eq(e_->to, (to_), "event %d: to %s", (int)(i), qk_level_name(e_->to));           \
        cr_assert_eq(e_->used, (uint64_t)(used_), "event %d: used %llu", (int)(i),                 \
                     (unsigned long long)e_->used);                                                \
        cr_assert_eq(e_->limit, (uint64_t)(limit_), "event %d: limit", (int)(i));                  \
    } while (0)

/* ---- fingerprints: everything observable about a tracker ---- */

#define FP_MAX 8

typedef struct {
    size_t count;
    qk_usage u[FP_MAX];
} fingerprint;

static inline fingerprint take_fp(qk_tracker *t)
{
    fingerprint f;
    memset(&f, 0, sizeof f);
    const int rc = qk_snapshot(t, f.u, FP_MAX, &f.count);
    cr_assert_eq(rc, QK_OK, "qk_snapshot: %s", qk_errmsg());
    cr_assert_eq(f.count, qk_service_count(t));
    for (size_t i = 0; i < f.count; i++) {
        const qk_usage p = peek(t, (qk_service)i);
        cr_assert(qkt_usage_eq(&p, &f.u[i]), "peek and snapshot disagree on service %zu", i);
    }
    return f;
}

static inline void assert_fp_eq(const fingerprint *a, const fingerprint *b, const char *what)
{
    cr_assert_eq(a->count, b->count, "%s: service count changed %zu -> %zu", what, a->count,
                 b->count);
    for (size_t i = 0; i < a->count; i++)
        cr_assert(qkt_usage_eq(&a->u[i], &b->u[i]), "%s: service %zu changed", what, i);
}

/* The thread's last error message must exist and mention `needle`. */
#define assert_errmsg_has(needle)                                                                  \
    do {                                                                                           \
        const char *m_ = qk_errmsg();                                                              \
        cr_assert_not_null(m_);                                                                    \
        cr_assert_gt(strlen(m_), 0, "empty qk_errmsg()");                                          \
        cr_assert_not_null(strstr(m_, (needle)), "qk_errmsg() '%s' does not mention '%s'", m_,     \
                           (needle));                                                              \
    } while (0)

/* A child forked with qkt_fork_run ended with QKT_CHILD_OK. */
#define assert_child_ok(pid, what)                                                                 \
    do {                                                                                           \
        const int st_rc_ = qkt_wait_child(pid);                                                    \
        cr_assert_eq(st_rc_, QKT_CHILD_OK, "%s: child %s %d", (what),                              \
                     st_rc_ >= 1000 ? "killed by signal" : "exited with", st_rc_ % 1000);          \
    } while (0)

#endif
