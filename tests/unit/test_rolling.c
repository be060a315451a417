/* Rolling windows (issue 22, docs/windows.md "Rolling windows"): the contract checked against a
 * brute-force count of every grant, with an injected clock, for private and state-file trackers.
 *
 * The model keeps a log of what the tracker counted (grants, records, set_used rises), each at
 * the latest time the tracker had seen (a clock stepped back counts in the current bucket, so the
 * window never moves backwards), and drops the newest entries for a refund or a lowering, as the
 * library does. Against it, for every consume:
 * - safety: a grant of n leaves at most cap calls in (t - W, t];
 * - precision: a refusal means more than cap - n calls in (t - W - W/50, t];
 * - reset_at: no later than the true earliest time the consume fits plus W/50, and (checked by
 *   moving the clock there now and then) a time at which it does succeed.
 * The mutant that lets the oldest bucket go one step early (tests/mutation) fails the safety
 * check; an exact sliding count would fail precision's opposite, never this one. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "qkt_criterion.h"
#include "tmpdir.h"

#define MAX_LOG 20000

typedef struct {
    int64_t at;
    uint64_t n;
} entry;

typedef struct {
    int64_t length, bucket; /* W and W/50 */
    uint64_t limit;
    entry log[MAX_LOG];
    size_t n_log;
} model;

typedef struct {
    unsigned n_windows;
    model m[2];
    uint64_t reserve;
    qkt_clock clk;
    int64_t seen; /* the latest time the tracker read */
    char dir[PATH_MAX], path[PATH_MAX];
    qk_service_def def;
    qk_tracker *t;
    uint64_t seed, first; /* the generator, and its value when the sequence began */
    unsigned long grants, refusals, verified;
} run;

static uint64_t rnd(run *r)
{
    r->seed ^= r->seed << 13;
    r->seed ^= r->seed >> 7;
    r->seed ^= r->seed << 17;
    return r->seed;
}

static uint64_t below(run *r, uint64_t n)
{
    return rnd(r) % n;
}

/* Calls the model holds in (from, to]. */
static uint64_t count_in(const model *m, int64_t from, int64_t to)
{
    uint64_t c = 0;
    for (size_t i = 0; i < m->n_log; i++)
        if (m->log[i].at > from && m->log[i].at <= to)
            c += m->log[i].n;
    return c;
}

/* Entries are appended at nondecreasing times; those at or before now - W - W/50 are outside
 * every interval a check at now or later looks at. */
static void prune(model *m, int64_t now)
{
    size_t old = 0;
    while (old < m->n_log && m->log[old].at <= now - m->length - m->bucket)
        old++;
    memmove(m->log, m->log + old, (m->n_log - old) * sizeof m->log[0]);
    m->n_log -= old;
}

static void add(model *m, int64_t at, uint64_t n)
{
    if (n == 0)
        return;
    prune(m, at);
    cr_assert_lt(m->n_log, MAX_LOG, "model log full");
    m->log[m->n_log++] = (entry){at, n};
}

/* The library lowers a count newest first: so does the model. */
static void drop_newest(model *m, uint64_t n)
{
    while (n > 0 && m->n_log > 0) {
        entry *e = &m->log[m->n_log - 1];
        const uint64_t t = e->n < n ? e->n : n;
        e->n -= t;
        n -= t;
        if (e->n == 0)
            m->n_log--;
    }
}

static uint64_t cap_of(const run *r, const model *m, unsigned flags)
{
    return (flags & QK_PRIORITY) ? m->limit : m->limit - r->reserve;
}

/* The earliest t >= now at which n more fit under cap, the log as it is: now, or when an entry
 * leaves. INT64_MAX when n > cap. */
static int64_t true_fit(const model *m, int64_t now, uint64_t n, uint64_t cap)
{
    if (n > cap)
        return INT64_MAX;
    if (count_in(m, now - m->length, now) + n <= cap)
        return now;
    /* In time order, and the count only falls as entries leave: the first that fits. */
    for (size_t i = 0; i < m->n_log; i++) {
        const int64_t t = m->log[i].at + m->length;
        if (t > now && count_in(m, t - m->length, t) + n <= cap)
            return t;
    }
    return INT64_MAX; /* not reached: once every entry left, n <= cap fits */
}

static void open_tracker(run *r)
{
    qk_options o = QK_OPTIONS_INIT;
    o.services = &r->def;
    o.n_services = 1;
    o.clock = qkt_clock_read;
    o.clock_ctx = &r->clk;
    o.path = r->path[0] ? r->path : NULL;
    const int rc = qk_tracker_new(&r->t, &o);
    cr_assert_eq(rc, QK_OK, "qk_tracker_new: %s", qk_errmsg());
}

static void tick(run *r, int64_t now)
{
    qkt_clock_set(&r->clk, now);
    if (now > r->seen)
        r->seen = now;
}

static void check_consume(run *r, uint64_t n, unsigned flags, int verify_reset)
{
    qk_usage u;
    const int rc = qk_try_consume(r->t, 0, n, flags, &u);
    const int64_t t = r->seen;
    if (rc == QK_OK) {
        r->grants++;
        for (unsigned w = 0; w < r->n_windows; w++) {
            model *m = &r->m[w];
            const uint64_t before = count_in(m, t - m->length, t);
            cr_assert_leq(
                before + n, cap_of(r, m, flags),
                "sequence %llu: safety: granted %llu at %lld with %llu already in the last "
                "%lld ms of window %u (cap %llu)",
                (unsigned long long)r->first, (unsigned long long)n, (long long)t,
                (unsigned long long)before, (long long)m->length, w,
                (unsigned long long)cap_of(r, m, flags));
            add(m, t, n);
        }
        return;
    }
    cr_assert_eq(rc, QK_ELIMIT, "qk_try_consume: %d %s", rc, qk_errmsg());
    r->refusals++;
    cr_assert_geq(u.tripped, 0);
    const unsigned w = (unsigned)u.tripped;
    const model *m = &r->m[w];
    const uint64_t cap = cap_of(r, m, flags);
    const uint64_t wide = count_in(m, t - m->length - m->bucket, t);
    cr_assert_gt(
        wide + n, cap,
        "sequence %llu: precision: refused %llu at %lld by window %u with only %llu in the "
        "last %lld ms (cap %llu)",
        (unsigned long long)r->first, (unsigned long long)n, (long long)t, w,
        (unsigned long long)wide, (long long)(m->length + m->bucket), (unsigned long long)cap);
    /* The latest of the windows' true fits, against the answer. */
    int64_t fit = INT64_MIN;
    for (unsigned i = 0; i < r->n_windows; i++) {
        const int64_t f = true_fit(&r->m[i], t, n, cap_of(r, &r->m[i], flags));
        if (f > fit)
            fit = f;
    }
    if (fit == INT64_MAX)
        return; /* n above a cap: never fits */
    const int64_t bucket =
        r->n_windows > 1 && r->m[1].bucket > r->m[0].bucket ? r->m[1].bucket : r->m[0].bucket;
    cr_assert_leq(u.reset_at_ms, fit + bucket,
                  "sequence %llu: reset_at %lld later than the true fit %lld plus a bucket",
                  (unsigned long long)r->first, (long long)u.reset_at_ms, (long long)fit);
    cr_assert_geq(u.reset_at_ms, fit, "sequence %llu: reset_at %lld before the true fit %lld",
                  (unsigned long long)r->first, (long long)u.reset_at_ms, (long long)fit);
    if (verify_reset) {
        r->verified++;
        tick(r, u.reset_at_ms);
        qk_usage v;
        cr_assert_eq(qk_try_consume(r->t, 0, n, flags, &v), QK_OK,
                     "sequence %llu: the consume refused until %lld fails at that time",
                     (unsigned long long)r->first, (long long)u.reset_at_ms);
        r->grants++;
        for (unsigned i = 0; i < r->n_windows; i++)
            add(&r->m[i], r->seen, n);
    }
}

/* One random sequence of `ops` operations on a tracker of one or two rolling windows. */
static void sequence(run *r, int with_file, unsigned ops)
{
    static const struct {
        qk_period p;
        unsigned every;
    } shapes[] = {{QK_SECOND, 1}, {QK_SECOND, 10}, {QK_MINUTE, 1}, {QK_MINUTE, 15}};
    memset(&r->def, 0, sizeof r->def);
    r->def.name = "api";
    r->n_windows = 1 + (unsigned)below(r, 2);
    uint64_t min_limit = UINT64_MAX;
    for (unsigned w = 0; w < r->n_windows; w++) {
        const unsigned k = (unsigned)below(r, 4);
        model *m = &r->m[w];
        m->length = (shapes[k].p == QK_SECOND ? 1000 : 60000) * (int64_t)shapes[k].every;
        m->bucket = m->length / 50;
        m->limit = 1 + below(r, 40);
        m->n_log = 0;
        if (m->limit < min_limit)
            min_limit = m->limit;
        r->def.windows[w] = (qk_window_def){shapes[k].p, m->limit, .every = shapes[k].every,
                                            .flags = QK_WINDOW_ROLLING};
    }
    r->reserve = below(r, 3) == 0 ? below(r, min_limit) : 0;
    r->def.reserve = r->reserve;
    r->seen = QKT_T0_MS + (int64_t)below(r, 100000000);
    qkt_clock_set(&r->clk, r->seen);
    r->path[0] = 0;
    if (with_file) {
        qkt_path(r->path, r->dir, "rolling.qk");
        unlink(r->path);
    }
    open_tracker(r);
    const int64_t step = r->m[0].length / 20;
    for (unsigned op = 0; op < ops; op++) {
        const unsigned what = (unsigned)below(r, 100);
        /* The clock: mostly small steps forward, some jumps, a few steps back. */
        const unsigned move = (unsigned)below(r, 20);
        int64_t now = qkt_clock_read(&r->clk);
        if (move < 14)
            now += (int64_t)below(r, (uint64_t)step + 1);
        else if (move < 16)
            now += (int64_t)below(r, (uint64_t)r->m[0].length * 2);
        else if (move < 18)
            now -= (int64_t)below(r, (uint64_t)r->m[0].length);
        tick(r, now);
        if (what < 70) {
            check_consume(r, 1 + below(r, 4), below(r, 4) == 0 ? QK_PRIORITY : 0, below(r, 8) == 0);
        } else if (what < 78) {
            const uint64_t n = 1 + below(r, 3);
            cr_assert_eq(qk_record(r->t, 0, n, NULL), QK_OK);
            for (unsigned w = 0; w < r->n_windows; w++)
                add(&r->m[w], r->seen, n);
        } else if (what < 88) {
            const qk_usage u = peek(r->t, 0);
            const uint64_t n = 1 + below(r, 4);
            cr_assert_eq(qk_refund(r->t, 0, n), QK_OK);
            for (unsigned w = 0; w < r->n_windows; w++) {
                const uint64_t used = u.windows[w].used;
                drop_newest(&r->m[w], n < used ? n : used);
            }
        } else if (what < 95) {
            const unsigned w = (unsigned)below(r, r->n_windows);
            const qk_usage u = peek(r->t, 0);
            const uint64_t used = u.windows[w].used;
            const uint64_t to = below(r, used + 4);
            cr_assert_eq(qk_set_used(r->t, 0, w, to), QK_OK);
            if (to > used)
                add(&r->m[w], r->seen, to - used);
            else
                drop_newest(&r->m[w], used - to);
        } else if (what < 97) {
            cr_assert_eq(qk_reset(r->t, 0), QK_OK);
            for (unsigned w = 0; w < r->n_windows; w++)
                r->m[w].n_log = 0;
        } else if (with_file) {
            /* Closed and opened again: the buckets are in the file. */
            qk_tracker_free(r->t);
            open_tracker(r);
        } else {
            const qk_usage u = peek(r->t, 0);
            for (unsigned w = 0; w < r->n_windows; w++)
                cr_assert_eq(u.windows[w].remaining, u.windows[w].used >= r->m[w].limit
                                                         ? 0
                                                         : r->m[w].limit - u.windows[w].used);
        }
    }
    qk_tracker_free(r->t);
}

/* Under valgrind a tenth: the same property, checked on fewer sequences. */
static unsigned scaled(unsigned n)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre != NULL && strstr(pre, "vgpreload") != NULL ? n / 10 : n;
}

static void contract(int with_file, unsigned sequences, unsigned ops, uint64_t seed0)
{
    run *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    qkt_tmpdir_make(r->dir, "qk-rolling");
    sequences = scaled(sequences);
    for (unsigned i = 0; i < sequences; i++) {
        r->seed = seed0 + i * UINT64_C(0x9e3779b97f4a7c15);
        if (r->seed == 0)
            r->seed = 1;
        r->first = r->seed;
        sequence(r, with_file, ops);
    }
    cr_log_info("%u sequences: %lu grants, %lu refusals, %lu reset_at times tried", sequences,
                r->grants, r->refusals, r->verified);
    cr_assert_gt(r->grants, 0);
    cr_assert_gt(r->refusals, sequences, "the limits were reached often enough to test");
    qkt_tmpdir_remove(r->dir);
    free(r);
}

Test(rolling, contract_private, .timeout = 120)
{
    contract(0, 3000, 300, 1);
}

Test(rolling, contract_state_file, .timeout = 120)
{
    contract(1, 300, 300, 7);
}

/* Levels follow the rolling count: they fall as calls slide out, each change reported once. */
Test(rolling, levels_fall_as_calls_slide_out)
{
    qkt_clock clk = {QKT_T0_MS};
    qkt_evrec log;
    qkt_evrec_init(&log);
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "r";
    d.windows[0] = (qk_window_def){QK_SECOND, 10, .flags = QK_WINDOW_ROLLING};
    qk_tracker *t = new_tracker(&d, 1, 0, &clk, &log);
    cr_assert_eq(qk_try_consume(t, 0, 5, 0, NULL), QK_OK);
    assert_event(&log, 0, 0, 0, QK_LEVEL_OK, QK_LEVEL_WARN, 5, 10);
    qkt_clock_advance(&clk, 500);
    cr_assert_eq(qk_try_consume(t, 0, 5, 0, NULL), QK_OK);
    assert_event(&log, 1, 0, 0, QK_LEVEL_WARN, QK_LEVEL_EXHAUSTED, 10, 10);
    qk_usage u;
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_ELIMIT);
    cr_assert_eq(u.reset_at_ms, QKT_T0_MS + 1020, "the first 5 leave with their bucket");
    qkt_clock_advance(&clk, 519);
    cr_assert_eq(peek(t, 0).windows[0].used, 10, "not a millisecond early");
    cr_assert_eq(log.n, 2);
    qkt_clock_advance(&clk, 1); /* T0 + 1020 */
    cr_assert_eq(peek(t, 0).windows[0].used, 5);
    assert_event(&log, 2, 0, 0, QK_LEVEL_EXHAUSTED, QK_LEVEL_WARN, 5, 10);
    cr_assert_eq(peek(t, 0).windows[0].used, 5);
    cr_assert_eq(log.n, 3, "reported once");
    qkt_clock_advance(&clk, 500);
    cr_assert_eq(peek(t, 0).windows[0].used, 0);
    assert_event(&log, 3, 0, 0, QK_LEVEL_WARN, QK_LEVEL_OK, 0, 10);
    cr_assert_eq(log.n, 4);
    qk_tracker_free(t);
}

/* A refund gives back the newest calls: the old ones still leave on time, the refunded ones
 * no longer hold the window. */
Test(rolling, a_refund_takes_the_newest_calls)
{
    qkt_clock clk = {QKT_T0_MS};
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "r";
    d.windows[0] = (qk_window_def){QK_SECOND, 10, .flags = QK_WINDOW_ROLLING};
    qk_tracker *t = new_tracker(&d, 1, 0, &clk, NULL);
    cr_assert_eq(qk_try_consume(t, 0, 4, 0, NULL), QK_OK);
    qkt_clock_advance(&clk, 600);
    cr_assert_eq(qk_try_consume(t, 0, 6, 0, NULL), QK_OK);
    cr_assert_eq(qk_refund(t, 0, 6), QK_OK);
    qk_usage u;
    cr_assert_eq(qk_try_consume(t, 0, 7, 0, &u), QK_ELIMIT);
    cr_assert_eq(u.reset_at_ms, QKT_T0_MS + 1020, "the 4 old calls hold the window until then");
    qkt_clock_set(&clk, QKT_T0_MS + 1020);
    cr_assert_eq(qk_try_consume(t, 0, 10, 0, NULL), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
}

/* The validation of a rolling window's shape. */
Test(rolling, shapes_it_refuses)
{
    static const struct {
        qk_window_def w;
        const char *needle;
    } bad[] = {
        {{QK_MONTH, 10, .flags = QK_WINDOW_ROLLING}, "rolling window of QK_MONTH"},
        {{QK_FOREVER, 10, .flags = QK_WINDOW_ROLLING}, "rolling window of QK_FOREVER"},
        {{QK_MINUTE, 10, .flags = QK_WINDOW_ROLLING, .offset_ms = 1000}, "offset_ms on a rolling"},
        {{QK_DAY, 10, .flags = QK_WINDOW_ROLLING, .tz = "UTC"}, "tz on a rolling"},
        {{QK_WEEK, 10, .every = 2000000, .flags = QK_WINDOW_ROLLING}, "too long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qk_service_def d;
        memset(&d, 0, sizeof d);
        d.name = "r";
        d.windows[0] = bad[i].w;
        qk_options o = QK_OPTIONS_INIT;
        o.services = &d;
        o.n_services = 1;
        qk_tracker *t = NULL;
        cr_assert_eq(qk_tracker_new(&t, &o), QK_EINVAL, "case %zu", i);
        cr_assert_not_null(strstr(qk_errmsg(), bad[i].needle), "case %zu: %s", i, qk_errmsg());
    }
}

/* A store tracker takes rolling windows (leased in pieces: docs/store.md, "Rolling windows"; the
 * fleet's tests are store_rolling): configured, and held in a state file for a service it does
 * not configure, which its guard counts by the slot's own flags. The store is reached only at
 * the first sync, so an address nobody serves does not stop the open. */
Test(rolling, a_store_tracker_opens_rolling_windows)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qkt_tmpdir_make(dir, "qk-rolling");
    qkt_path(path, dir, "r.qk");
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "r";
    d.windows[0] = (qk_window_def){QK_SECOND, 10, .flags = QK_WINDOW_ROLLING};
    qk_options o = QK_OPTIONS_INIT;
    o.services = &d;
    o.n_services = 1;
    o.store = "redis://127.0.0.1:1";
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
    o.store = NULL;
    o.path = path;
    t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
    qk_options s = QK_OPTIONS_INIT;
    s.path = path;
    s.capacity = 1;
    s.store = "redis://127.0.0.1:1";
    t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &s), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}
