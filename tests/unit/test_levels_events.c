/* Levels from integer math at exact boundaries, the service level, and events: exactly one per
 * level change of a window, their fields and per-service seq, delivered after every lock is
 * released (the callback may call back into the tracker) and in the thread that caused them. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>

#include "clock.h"
#include "evrec.h"
#include "qkt_criterion.h"
#include "usage.h"
#include "utc.h"

#include "tracker.h" /* white-box: qk__deliver */

static qkt_clock clk;
static qkt_evrec log_;

static qk_tracker *tracker_of(const qk_service_def *defs, size_t n, size_t cap)
{
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 0, 30, 0));
    qkt_evrec_init(&log_);
    return new_tracker(defs, n, cap, &clk, &log_);
}

static qk_level level_at(qk_tracker *t, qk_service s, unsigned w, uint64_t used)
{
    cr_assert_eq(qk_set_used(t, s, w, used), QK_OK, "%s", qk_errmsg());
    return peek(t, s).windows[w].level;
}

/* ---- level math ---- */

typedef struct {
    uint64_t used;
    qk_level level;
} level_case;

/* One tracker of d; each case in turn sets window 0 to .used and expects .level. */
static void assert_levels(const qk_service_def *d, const level_case *cases, size_t n)
{
    qk_tracker *t = tracker_of(d, 1, 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(level_at(t, 0, 0, cases[i].used), cases[i].level,
                     "%s (warn %u crit %u): used %llu", d->name, d->warn_pct, d->critical_pct,
                     (unsigned long long)cases[i].used);
    qk_tracker_free(t);
}

#define ASSERT_LEVELS(d, ...)                                                                      \
    assert_levels((d), (const level_case[]){__VA_ARGS__},                                          \
                  sizeof((const level_case[]){__VA_ARGS__}) / sizeof(level_case))

Test(levels, defaults_warn_50_critical_80_at_exact_boundaries)
{
    const qk_service_def d = qkt_svc_def("s", QK_DAY, 100, QK_MINUTE, 0);
    ASSERT_LEVELS(&d, {0, QK_LEVEL_OK}, {49, QK_LEVEL_OK}, {50, QK_LEVEL_WARN}, {79, QK_LEVEL_WARN},
                  {80, QK_LEVEL_CRITICAL}, {99, QK_LEVEL_CRITICAL}, {100, QK_LEVEL_EXHAUSTED},
                  {101, QK_LEVEL_EXHAUSTED}, {UINT64_MAX, QK_LEVEL_EXHAUSTED}, {1, QK_LEVEL_OK});
}

/* Smallest count c with c*100 >= pct*limit, in 128-bit arithmetic: the oracle. */
static uint64_t oracle_at(uint64_t limit, unsigned pct)
{
    const unsigned __int128 p = (unsigned __int128)pct * limit;
    return (uint64_t)((p + 99) / 100);
}

static qk_level oracle_level(uint64_t limit, unsigned warn, unsigned crit, uint64_t used)
{
    if (used >= limit)
        return QK_LEVEL_EXHAUSTED;
    if (used >= oracle_at(limit, crit))
        return QK_LEVEL_CRITICAL;
    if (used >= oracle_at(limit, warn))
        return QK_LEVEL_WARN;
    return QK_LEVEL_OK;
}

/* used*100 >= pct*limit, checked one below and at each threshold, for limits not divisible by
 * 100 and limits whose pct*limit overflows 64 bits. */
Test(levels, integer_thresholds_match_128_bit_oracle)
{
    static const uint64_t limits[] = {1,
                                      2,
                                      3,
                                      7,
                                      10,
                                      60,
                                      99,
                                      100,
                                      101,
                                      333,
                                      999,
                                      1001,
                                      123457,
                                      UINT64_MAX / 100,
                                      UINT64_MAX / 100 + 1,
                                      UINT64_MAX / 3,
                                      UINT64_MAX / 2 + 1,
                                      UINT64_MAX - 99,
                                      UINT64_MAX - 1,
                                      UINT64_MAX};
    static const unsigned pcts[][2] = {{50, 80},   {1, 100}, {33, 66}, {99, 99},
                                       {100, 100}, {10, 90}, {1, 1},   {49, 51}};
    for (size_t p = 0; p < sizeof pcts / sizeof pcts[0]; p++) {
        const unsigned warn = pcts[p][0], crit = pcts[p][1];
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
            const uint64_t limit = limits[l];
            qk_service_def d = qkt_svc_def("s", QK_DAY, limit, QK_MINUTE, 0);
            d.warn_pct = (uint8_t)warn;
            d.critical_pct = (uint8_t)crit;
            qk_tracker *t = tracker_of(&d, 1, 0);
            const uint64_t w = oracle_at(limit, warn), c = oracle_at(limit, crit);
            const uint64_t probes[] = {0,     w - 1,     w,     w + 1,     c - 1,     c,
                                       c + 1, limit - 1, limit, limit + 1, UINT64_MAX};
            for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
                const uint64_t used = probes[i]; /* a wrapped probe is just another value */
                cr_assert_eq(level_at(t, 0, 0, used), oracle_level(limit, warn, crit, used),
                             "limit %llu warn %u crit %u used %llu", (unsigned long long)limit,
                             warn, crit, (unsigned long long)used);
            }
            qk_tracker_free(t);
        }
    }
}

Test(levels, small_and_odd_limits_by_hand)
{
    /* limit 3: warn at 2 (1.5 rounds up), critical at 3 = the limit, so CRITICAL never shows. */
    qk_service_def d = qkt_svc_def("three", QK_DAY, 3, QK_MINUTE, 0);
    ASSERT_LEVELS(&d, {1, QK_LEVEL_OK}, {2, QK_LEVEL_WARN}, {3, QK_LEVEL_EXHAUSTED});
    /* limit 7: warn at 4 (3.5), critical at 6 (5.6). */
    d = qkt_svc_def("seven", QK_DAY, 7, QK_MINUTE, 0);
    ASSERT_LEVELS(&d, {3, QK_LEVEL_OK}, {4, QK_LEVEL_WARN}, {5, QK_LEVEL_WARN},
                  {6, QK_LEVEL_CRITICAL}, {7, QK_LEVEL_EXHAUSTED});
    /* finnhub, 60/minute: warn at 30, critical at 48 (the original's 54 = 90 % is critical). */
    d = qkt_svc_def("finnhub", QK_MINUTE, 60, QK_MINUTE, 0);
    ASSERT_LEVELS(&d, {29, QK_LEVEL_OK}, {30, QK_LEVEL_WARN}, {47, QK_LEVEL_WARN},
                  {48, QK_LEVEL_CRITICAL}, {54, QK_LEVEL_CRITICAL}, {60, QK_LEVEL_EXHAUSTED});
    /* UINT64_MAX: warn at 2^63 (half of 2^64-1, rounded up), critical at exactly 4/5 of it. */
    d = qkt_svc_def("huge", QK_FOREVER, UINT64_MAX, QK_MINUTE, 0);
    ASSERT_LEVELS(&d, {UINT64_C(9223372036854775807), QK_LEVEL_OK},
                  {UINT64_C(9223372036854775808), QK_LEVEL_WARN},
                  {UINT64_C(14757395258967641291), QK_LEVEL_WARN},
                  {UINT64_C(14757395258967641292), QK_LEVEL_CRITICAL},
                  {UINT64_MAX - 1, QK_LEVEL_CRITICAL}, {UINT64_MAX, QK_LEVEL_EXHAUSTED});
}

Test(levels, custom_pcts)
{
    qk_service_def d = qkt_svc_def("s", QK_DAY, 200, QK_MINUTE, 0);
    d.warn_pct = 25;
    d.critical_pct = 95;
    ASSERT_LEVELS(&d, {49, QK_LEVEL_OK}, {50, QK_LEVEL_WARN}, {189, QK_LEVEL_WARN},
                  {190, QK_LEVEL_CRITICAL});
    /* Only warn given: critical stays 80. */
    d.warn_pct = 10;
    d.critical_pct = 0;
    ASSERT_LEVELS(&d, {20, QK_LEVEL_WARN}, {159, QK_LEVEL_WARN}, {160, QK_LEVEL_CRITICAL});
    /* warn == critical: WARN never shows. */
    d.warn_pct = 70;
    d.critical_pct = 70;
    ASSERT_LEVELS(&d, {139, QK_LEVEL_OK}, {140, QK_LEVEL_CRITICAL});
}

Test(levels, service_level_is_the_highest_window_level)
{
    /* minute 10 (warn 5, crit 8), day 1000 (warn 500, crit 800) */
    const qk_service_def d = qkt_svc_def("s", QK_MINUTE, 10, QK_DAY, 1000);
    qk_tracker *t = tracker_of(&d, 1, 0);
    qk_usage u;
    cr_assert_eq(qk_record(t, 0, 5, &u), QK_OK);
    cr_assert_eq(u.windows[0].level, QK_LEVEL_WARN);
    cr_assert_eq(u.windows[1].level, QK_LEVEL_OK);
    cr_assert_eq(u.level, QK_LEVEL_WARN);
    cr_assert_eq(qk_set_used(t, 0, 1, 850), QK_OK);
    u = peek(t, 0);
    cr_assert_eq(u.level, QK_LEVEL_CRITICAL, "the day window is higher now");
    cr_assert_eq(qk_record(t, 0, 5, &u), QK_OK);
    cr_assert_eq(u.windows[0].level, QK_LEVEL_EXHAUSTED);
    cr_assert_eq(u.level, QK_LEVEL_EXHAUSTED);
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 1, 0, 0)); /* the minute rolls */
    u = peek(t, 0);
    cr_assert_eq(u.windows[0].level, QK_LEVEL_OK);
    cr_assert_eq(u.windows[1].level, QK_LEVEL_CRITICAL);
    cr_assert_eq(u.level, QK_LEVEL_CRITICAL);
    qk_tracker_free(t);
}

/* ---- events: exactly one per change ---- */

static qk_service_def two[2];

/* "other" (index 0) and "svc" (index 1): minute 10 (warn 5, crit 8) + day 1000. */
static qk_tracker *events_tracker(void)
{
    two[0] = qkt_svc_def("other", QK_DAY, 100, QK_MINUTE, 0);
    two[1] = qkt_svc_def("svc", QK_MINUTE, 10, QK_DAY, 1000);
    return tracker_of(two, 2, 8);
}

Test(events, adding_services_emits_nothing)
{
    qk_tracker *t = events_tracker();
    qk_service_def d = qkt_svc_def("third", QK_DAY, 1, QK_MINUTE, 0);
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK);
    cr_assert_eq(qkt_evrec_count(&log_), 0);
    qk_tracker_free(t);
}

Test(events, one_event_per_level_change_going_up)
{
    qk_tracker *t = events_tracker();
    const int64_t minute = qkt_utc(2024, 1, 2, 10, 0, 0, 0);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(qk_record(t, 1, 1, NULL), QK_OK);
    cr_assert_eq(log_.n, 3, "events: %zu", log_.n);
    assert_event(&log_, 0, 1, 0, QK_LEVEL_OK, QK_LEVEL_WARN, 5, 10);
    assert_event(&log_, 1, 1, 0, QK_LEVEL_WARN, QK_LEVEL_CRITICAL, 8, 10);
    assert_event(&log_, 2, 1, 0, QK_LEVEL_CRITICAL, QK_LEVEL_EXHAUSTED, 10, 10);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(log_.ev[i].seq, i + 1, "seq from 1");
        cr_assert_str_eq(log_.ev[i].name, "svc");
        cr_assert_eq(log_.ev[i].window_start_ms, minute);
    }
    qk_tracker_free(t);
}

/* A jump over several thresholds is one change of level, so one event from the old level to
 * the new one (not one per threshold crossed). */
Test(events, a_jump_over_several_thresholds_is_one_event)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_record(t, 1, 10, NULL), QK_OK);
    cr_assert_eq(log_.n, 1);
    assert_event(&log_, 0, 1, 0, QK_LEVEL_OK, QK_LEVEL_EXHAUSTED, 10, 10);
    cr_assert_eq(qk_set_used(t, 1, 0, 0), QK_OK);
    cr_assert_eq(log_.n, 2);
    assert_event(&log_, 1, 1, 0, QK_LEVEL_EXHAUSTED, QK_LEVEL_OK, 0, 10);
    cr_assert_eq(qk_try_consume(t, 1, 9, 0, NULL), QK_OK);
    cr_assert_eq(log_.n, 3);
    assert_event(&log_, 2, 1, 0, QK_LEVEL_OK, QK_LEVEL_CRITICAL, 9, 10);
    cr_assert_eq(log_.ev[2].seq, 3);
    qk_tracker_free(t);
}

Test(events, no_event_without_a_level_change)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_record(t, 1, 4, NULL), QK_OK);
    cr_assert_eq(qk_refund(t, 1, 2), QK_OK);
    cr_assert_eq(qk_set_used(t, 1, 0, 3), QK_OK);
    cr_assert_eq(qk_try_consume(t, 1, 1, 0, NULL), QK_OK);
    cr_assert_eq(qk_reset(t, 0), QK_OK);
    cr_assert_eq(qk_reset_all(t), QK_OK);
    qk_usage u[2];
    size_t n;
    cr_assert_eq(qk_snapshot(t, u, 2, &n), QK_OK);
    cr_assert_eq(log_.n, 0, "events without a level change: %zu", log_.n);
    /* A refused consume changes nothing. */
    cr_assert_eq(qk_record(t, 1, 9, NULL), QK_OK);
    const size_t before = log_.n;
    cr_assert_eq(qk_try_consume(t, 1, 5, 0, NULL), QK_ELIMIT);
    cr_assert_eq(log_.n, before);
    qk_tracker_free(t);
}

/* One record that crosses thresholds in two windows: one event per window, ascending. */
Test(events, one_event_per_window_that_changes)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_set_used(t, 1, 1, 495), QK_OK);
    cr_assert_eq(qk_record(t, 1, 5, NULL), QK_OK);
    cr_assert_eq(log_.n, 2);
    assert_event(&log_, 0, 1, 0, QK_LEVEL_OK, QK_LEVEL_WARN, 5, 10);
    assert_event(&log_, 1, 1, 1, QK_LEVEL_OK, QK_LEVEL_WARN, 500, 1000);
    cr_assert_eq(log_.ev[0].seq, 1);
    cr_assert_eq(log_.ev[1].seq, 2);
    cr_assert_eq(log_.ev[1].window_start_ms, qkt_utc(2024, 1, 2, 0, 0, 0, 0));
    qk_tracker_free(t);
}

Test(events, down_on_rollover)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_record(t, 1, 8, NULL), QK_OK); /* minute CRITICAL, day OK */
    cr_assert_eq(log_.n, 1);
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 1, 0, 0));
    cr_assert_eq(log_.n, 1);
    qk_usage u = peek(t, 1);
    cr_assert_eq(u.windows[0].used, 0);
    cr_assert_eq(log_.n, 2, "one event for the minute window only");
    assert_event(&log_, 1, 1, 0, QK_LEVEL_CRITICAL, QK_LEVEL_OK, 0, 10);
    cr_assert_eq(log_.ev[1].window_start_ms, qkt_utc(2024, 1, 2, 10, 1, 0, 0));
    cr_assert_eq(log_.ev[1].seq, 2);
    qk_tracker_free(t);
}

/* Rollover and the operation in the same access: two changes, two events, in order. */
Test(events, rollover_then_operation_in_one_call)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_set_used(t, 1, 1, 480), QK_OK); /* day still OK */
    cr_assert_eq(qk_record(t, 1, 10, NULL), QK_OK);
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 5, 0, 0));
    cr_assert_eq(qk_record(t, 1, 10, NULL), QK_OK);
    cr_assert_eq(log_.n, 4);
    assert_event(&log_, 1, 1, 0, QK_LEVEL_EXHAUSTED, QK_LEVEL_OK, 0, 10);
    assert_event(&log_, 2, 1, 0, QK_LEVEL_OK, QK_LEVEL_EXHAUSTED, 10, 10);
    assert_event(&log_, 3, 1, 1, QK_LEVEL_OK, QK_LEVEL_WARN, 500, 1000);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(log_.ev[i].seq, i + 1);
    qk_tracker_free(t);
}

Test(events, down_on_reset_refund_and_set_used)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_record(t, 1, 10, NULL), QK_OK); /* minute EXHAUSTED */
    cr_assert_eq(qk_set_used(t, 1, 1, 900), QK_OK); /* day CRITICAL */
    cr_assert_eq(log_.n, 2);

    cr_assert_eq(qk_refund(t, 1, 3), QK_OK); /* minute 7: WARN; day 897: CRITICAL */
    cr_assert_eq(log_.n, 3);
    assert_event(&log_, 2, 1, 0, QK_LEVEL_EXHAUSTED, QK_LEVEL_WARN, 7, 10);

    cr_assert_eq(qk_set_used(t, 1, 1, 400), QK_OK);
    cr_assert_eq(log_.n, 4);
    assert_event(&log_, 3, 1, 1, QK_LEVEL_CRITICAL, QK_LEVEL_OK, 400, 1000);

    cr_assert_eq(qk_set_used(t, 1, 1, 600), QK_OK);
    cr_assert_eq(qk_reset(t, 1), QK_OK); /* both windows down */
    cr_assert_eq(log_.n, 7);
    assert_event(&log_, 5, 1, 0, QK_LEVEL_WARN, QK_LEVEL_OK, 0, 10);
    assert_event(&log_, 6, 1, 1, QK_LEVEL_WARN, QK_LEVEL_OK, 0, 1000);
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(log_.ev[i].seq, i + 1, "seq strictly increasing by one");
    qk_tracker_free(t);
}

Test(events, down_on_reset_all_with_per_service_seq)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_record(t, 0, 60, NULL), QK_OK); /* other: WARN (seq 1) */
    cr_assert_eq(qk_record(t, 1, 5, NULL), QK_OK);  /* svc: minute WARN (seq 1) */
    cr_assert_eq(qk_record(t, 1, 3, NULL), QK_OK);  /* svc: minute CRITICAL (seq 2) */
    cr_assert_eq(qk_record(t, 0, 30, NULL), QK_OK); /* other: CRITICAL (seq 2) */
    cr_assert_eq(log_.n, 4);
    cr_assert_eq(log_.ev[0].seq, 1);
    cr_assert_eq(log_.ev[1].seq, 1);
    cr_assert_eq(log_.ev[2].seq, 2);
    cr_assert_eq(log_.ev[3].seq, 2);
    cr_assert_eq(qk_reset_all(t), QK_OK);
    cr_assert_eq(log_.n, 6, "one event per window whose level fell");
    assert_event(&log_, 4, 0, 0, QK_LEVEL_CRITICAL, QK_LEVEL_OK, 0, 100);
    assert_event(&log_, 5, 1, 0, QK_LEVEL_CRITICAL, QK_LEVEL_OK, 0, 10);
    cr_assert_eq(log_.ev[4].seq, 3);
    cr_assert_eq(log_.ev[5].seq, 3);
    cr_assert_str_eq(log_.ev[4].name, "other");
    cr_assert_str_eq(log_.ev[5].name, "svc");
    qk_tracker_free(t);
}

Test(events, name_stays_valid_for_the_trackers_life)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_record(t, 1, 5, NULL), QK_OK);
    cr_assert_str_eq(log_.ev[0].name, "svc");
    for (int i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "more%d", i);
        qk_service_def d = qkt_svc_def(n, QK_DAY, 10, QK_MINUTE, 0);
        cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK);
    }
    cr_assert_eq(qk_record(t, 1, 3, NULL), QK_OK);
    cr_assert_str_eq(log_.ev[1].name, "svc");
    qk_tracker_free(t);
}

/* ---- delivery: after the locks, in the calling thread ---- */

typedef struct {
    qk_tracker *t;
    int depth;
    int calls;
    int failures;
    int added;
    char last_error[256];
} reentry;

static reentry re;

static void fail_note(int rc, const char *what)
{
    if (rc != QK_OK) {
        re.failures++;
        snprintf(re.last_error, sizeof re.last_error, "%s: %d %s", what, rc, qk_errmsg());
    }
}

/* Calls back into the same tracker from inside the callback: every slot lock and the snapshot
 * lock must be free (a held lock deadlocks here, or trips the lock-order checker). */
static void reentrant_cb(const qk_event *ev, void *payload)
{
    (void)payload;
    qkt_evrec_fn(ev, &log_);
    re.calls++;
    if (re.depth > 0)
        return; /* the nested calls below may cause events of their own */
    re.depth++;
    qk_tracker *t = re.t;
    qk_usage u[16];
    size_t n = 0;
    fail_note(qk_peek(t, ev->service, &u[0]), "peek same service");
    fail_note(qk_record(t, ev->service, 1, &u[0]), "record same service");
    fail_note(qk_refund(t, ev->service, 1), "refund same service");
    fail_note(qk_record(t, 0, 1, NULL), "record other service");
    const int c = qk_try_consume(t, ev->service, 1, QK_PRIORITY, &u[0]);
    if (c != QK_ELIMIT)
        fail_note(c, "try_consume");
    fail_note(qk_snapshot(t, u, 16, &n), "snapshot");
    char name[16];
    snprintf(name, sizeof name, "cb%d", re.added);
    qk_service_def d = qkt_svc_def(name, QK_DAY, 10, QK_MINUTE, 0);
    fail_note(qk_service_add(t, &d, NULL), "service_add");
    re.added++;
    qk_service s;
    fail_note(qk_service_find(t, "svc", &s), "find");
    fail_note(qk_reset(t, 0), "reset other");
    fail_note(qk_set_used(t, 0, 0, 1), "set_used other");
    re.depth--;
}

static qk_tracker *reentrant_tracker(void)
{
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 0, 30, 0));
    qkt_evrec_init(&log_);
    memset(&re, 0, sizeof re);
    two[0] = qkt_svc_def("other", QK_DAY, 1000, QK_MINUTE, 0);
    two[1] = qkt_svc_def("svc", QK_MINUTE, 10, QK_DAY, 1000);
    qk_options o = QK_OPTIONS_INIT;
    o.services = two;
    o.n_services = 2;
    o.capacity = 64;
    o.clock = qkt_clock_read;
    o.clock_ctx = &clk;
    o.on_event = reentrant_cb;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK);
    re.t = t;
    return t;
}

/* Catches: a callback run while a slot lock (or the snapshot lock) is still held. */
Test(events, callback_may_call_back_into_the_tracker_from_single_service_ops, .timeout = 60)
{
    qk_tracker *t = reentrant_tracker();
    cr_assert_eq(qk_record(t, 1, 5, NULL), QK_OK); /* event from record */
    cr_assert_geq(re.calls, 1);
    cr_assert_eq(qk_set_used(t, 1, 0, 9), QK_OK);   /* from set_used */
    cr_assert_eq(qk_refund(t, 1, 8), QK_OK);        /* from refund */
    const int c = qk_try_consume(t, 1, 9, 0, NULL); /* the callbacks moved the count */
    cr_assert(c == QK_OK || c == QK_ELIMIT, "try_consume: %d", c);
    cr_assert_eq(qk_reset(t, 1), QK_OK);
    cr_assert_eq(re.failures, 0, "%s", re.last_error);
    cr_assert_geq(re.added, 3, "record, set_used and refund each changed a level: %d", re.added);
    cr_assert_eq(qk_service_count(t), 2 + (size_t)re.added);
    qk_tracker_free(t);
}

/* Catches: events from all-services passes (reset_all, a snapshot that rolls windows) delivered
 * before the snapshot lock and every slot lock are released. */
Test(events, callback_may_call_back_into_the_tracker_from_all_service_ops, .timeout = 60)
{
    qk_tracker *t = reentrant_tracker();
    cr_assert_eq(qk_set_used(t, 1, 0, 9), QK_OK);
    const int before = re.calls, added = re.added;
    cr_assert_eq(qk_reset_all(t), QK_OK);
    cr_assert_gt(re.calls, before, "reset_all delivered no event");
    cr_assert_eq(re.added, added + 1);
    cr_assert_eq(qk_set_used(t, 1, 0, 9), QK_OK);
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 3, 0, 0));
    const int before2 = re.calls;
    qk_usage u[64];
    size_t n;
    cr_assert_eq(qk_snapshot(t, u, 64, &n), QK_OK); /* rolls the minute: CRITICAL -> OK */
    cr_assert_gt(re.calls, before2, "the rolling snapshot delivered no event");
    cr_assert_eq(re.failures, 0, "%s", re.last_error);
    qk_tracker_free(t);
}

typedef struct {
    qk_tracker *t;
    pthread_t self;
    int op;
} thread_job;

static void *cause_event(void *arg)
{
    thread_job *j = arg;
    j->self = pthread_self();
    switch (j->op) {
    case 0:
        qk_record(j->t, 1, 5, NULL);
        break;
    case 1:
        qk_reset_all(j->t);
        break;
    default: {
        qk_usage u[2];
        size_t n;
        qk_snapshot(j->t, u, 2, &n);
        break;
    }
    }
    return NULL;
}

/* Catches: events queued and delivered later by some other thread (a dispatcher, or whichever
 * thread takes the lock next). */
Test(events, delivered_in_the_thread_that_caused_them, .timeout = 60)
{
    qk_tracker *t = events_tracker();
    cr_assert_eq(qk_record(t, 0, 50, NULL), QK_OK);
    cr_assert_eq(log_.n, 1);
    cr_assert(pthread_equal(log_.thread[0], pthread_self()));

    thread_job j = {t, pthread_self(), 0};
    pthread_t th;
    size_t want = 2;
    for (int op = 0; op < 3; op++) {
        j.op = op;
        if (op == 2) {
            cr_assert_eq(qk_record(t, 1, 5, NULL), QK_OK);
            want++;
            qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 9, 0, 0));
        }
        cr_assert_eq(pthread_create(&th, NULL, cause_event, &j), 0);
        pthread_join(th, NULL);
        cr_assert_geq(log_.n, want, "op %d delivered no event", op);
        cr_assert(!pthread_equal(j.self, pthread_self()));
        for (size_t i = want - 1; i < log_.n; i++)
            cr_assert(pthread_equal(log_.thread[i], j.self), "op %d: event %zu in another thread",
                      op, i);
        want = log_.n + 1;
    }
    qk_tracker_free(t);
}

/* ---- event kinds and the caller's options version ---- */

typedef struct {
    int n;
    qk_event last;
} kind_log;

static void log_kind(const qk_event *ev, void *payload)
{
    kind_log *k = payload;
    k->n++;
    k->last = *ev;
}

static qk_tracker *tracker_of_version(unsigned version, kind_log *k)
{
    qk_service_def d = {.name = "svc", .windows = {{QK_DAY, 10}}};
    qk_options o = QK_OPTIONS_INIT;
    o.version = version;
    o.services = &d;
    o.n_services = 1;
    o.on_event = log_kind;
    o.payload = k;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    return t;
}

/* Catches: a store transition handed to a callback compiled before qk_event had a kind, which
 * would read it as a level change of service 0. White-box: no store emits one yet, so the event
 * goes straight to the delivery function every event passes through. */
Test(events, store_kinds_reach_only_version_3_callbacks)
{
    for (unsigned version = 1; version <= QK_OPTIONS_VERSION; version++) {
        kind_log k = {0};
        qk_tracker *t = tracker_of_version(version, &k);
        cr_assert_eq(qk_record(t, 0, 5, NULL), QK_OK);
        cr_assert_eq(k.n, 1, "version %u: the level change is delivered", version);
        cr_assert_eq(k.last.kind, QK_EVENT_LEVEL);
        cr_assert_str_eq(k.last.name, "svc");
        cr_assert_eq(k.last.to, QK_LEVEL_WARN);

        qk_event store_ev = {.kind = QK_EVENT_STORE_DEGRADED, .name = "stale"};
        qk__deliver(t, &store_ev, 1);
        cr_assert_eq(k.n, version >= 3 ? 2 : 1, "version %u", version);
        if (version >= 3) {
            cr_assert_eq(k.last.kind, QK_EVENT_STORE_DEGRADED);
            cr_assert_null(k.last.name, "a store event names no service");
        }
        qk_tracker_free(t);
    }
}
