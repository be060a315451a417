/* Helpers shared by the unit suites (not by test_seed_scenarios.c, which stays self-contained):
 * a settable clock, an event log, an independent UTC calendar oracle, and state fingerprints
 * for "bad input changes nothing" checks. Each Criterion test runs in its own process, so file
 * statics are per test. */
#ifndef QK_UNIT_TEST_H
#define QK_UNIT_TEST_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "quotakeeper.h"
#include "qk_shared.h"

/* ---- a clock the test moves by hand ---- */

typedef struct {
    _Atomic int64_t now;
} tclock;

static inline int64_t tclock_read(void *ctx)
{
    return atomic_load(&((tclock *)ctx)->now);
}

static inline void tclock_set(tclock *c, int64_t ms)
{
    atomic_store(&c->now, ms);
}

/* ---- independent UTC oracle: counts days year by year (no shared code with calendar.c) ---- */

static inline bool t_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int t_month_days(int64_t y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && t_is_leap(y) ? 29 : md[m - 1];
}

static inline int64_t t_days(int64_t y, int m, int d)
{
    int64_t days = 0;
    if (y >= 1970)
        for (int64_t yy = 1970; yy < y; yy++)
            days += t_is_leap(yy) ? 366 : 365;
    else
        for (int64_t yy = y; yy < 1970; yy++)
            days -= t_is_leap(yy) ? 366 : 365;
    for (int mm = 1; mm < m; mm++)
        days += t_month_days(y, mm);
    return days + d - 1;
}

#define T_MIN  INT64_C(60000)
#define T_HOUR INT64_C(3600000)
#define T_DAY  INT64_C(86400000)

/* Milliseconds since the epoch of y-m-d h:mi:s.ms UTC. */
static inline int64_t utc(int64_t y, int m, int d, int h, int mi, int s, int ms)
{
    return t_days(y, m, d) * T_DAY + h * T_HOUR + mi * T_MIN + s * INT64_C(1000) + ms;
}

/* ---- event log ---- */

#define EVLOG_MAX 512

typedef struct {
    pthread_mutex_t mu;
    size_t n;
    qk_event ev[EVLOG_MAX];
    char name[EVLOG_MAX][QK_NAME_MAX];
    pthread_t thread[EVLOG_MAX];
} evlog;

static inline void evlog_init(evlog *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

static inline void evlog_fn(const qk_event *ev, void *payload)
{
    evlog *l = payload;
    pthread_mutex_lock(&l->mu);
    if (l->n < EVLOG_MAX) {
        l->ev[l->n] = *ev;
        snprintf(l->name[l->n], QK_NAME_MAX, "%s", ev->name ? ev->name : "(null)");
        l->ev[l->n].name = l->name[l->n];
        l->thread[l->n] = pthread_self();
    }
    l->n++;
    pthread_mutex_unlock(&l->mu);
}

static inline size_t evlog_count(evlog *l)
{
    pthread_mutex_lock(&l->mu);
    const size_t n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* Asserts event i of the log. */
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

/* ---- tracker construction ---- */

static inline qk_tracker *new_tracker(const qk_service_def *defs, size_t n, size_t capacity,
                                      tclock *clk, evlog *log)
{
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = n;
    o.capacity = capacity;
    if (clk != NULL) {
        o.clock = tclock_read;
        o.clock_ctx = clk;
    }
    if (log != NULL) {
        o.on_event = evlog_fn;
        o.payload = log;
    }
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    cr_assert_eq(rc, QK_OK, "qk_tracker_new: %s", qk_errmsg());
    cr_assert_not_null(t);
    return t;
}

/* ---- fingerprints: everything observable about a tracker ---- */

#define FP_MAX 8

typedef struct {
    size_t count;
    qk_usage u[FP_MAX];
} fingerprint;

/* Field by field: qk_usage has padding. */
static inline bool usage_eq(const qk_usage *a, const qk_usage *b)
{
    if (a->service != b->service || strcmp(a->name, b->name) != 0 || a->level != b->level ||
        a->remaining != b->remaining || a->reset_at_ms != b->reset_at_ms ||
        a->tripped != b->tripped || a->n_windows != b->n_windows)
        return false;
    for (unsigned i = 0; i < a->n_windows && i < QK_MAX_WINDOWS; i++) {
        const qk_window_usage *x = &a->windows[i], *y = &b->windows[i];
        if (x->period != y->period || x->limit != y->limit || x->used != y->used ||
            x->remaining != y->remaining || x->window_start_ms != y->window_start_ms ||
            x->reset_at_ms != y->reset_at_ms || x->level != y->level)
            return false;
    }
    return true;
}

static inline fingerprint take_fp(qk_tracker *t)
{
    fingerprint f;
    memset(&f, 0, sizeof f);
    const int rc = qk_snapshot(t, f.u, FP_MAX, &f.count);
    cr_assert_eq(rc, QK_OK, "qk_snapshot: %s", qk_errmsg());
    cr_assert_eq(f.count, qk_service_count(t));
    for (size_t i = 0; i < f.count; i++) {
        const qk_usage p = peek(t, (qk_service)i);
        cr_assert(usage_eq(&p, &f.u[i]), "peek and snapshot disagree on service %zu", i);
    }
    return f;
}

static inline void assert_fp_eq(const fingerprint *a, const fingerprint *b, const char *what)
{
    cr_assert_eq(a->count, b->count, "%s: service count changed %zu -> %zu", what, a->count,
                 b->count);
    for (size_t i = 0; i < a->count; i++)
        cr_assert(usage_eq(&a->u[i], &b->u[i]), "%s: service %zu changed", what, i);
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

#endif
