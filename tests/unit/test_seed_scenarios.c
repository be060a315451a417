/* The spec's scenarios (seed 000: "Fix QuotaTracker Thread Safety Bug") and the original
 * thread-safety suite's shapes, with the spec's numbers and exact totals.
 *
 * Self-contained on purpose: tests/mutation compiles this same file against a library with the
 * spec's lost-update bug (copy every count out under the locks, unlock, increment one service
 * in the copy, write the whole copy back), so every scenario checks exact counts and the suite
 * must fail there. Only the public header, Criterion and standard headers are included.
 *
 * Every threaded test releases its threads with one pthread barrier, counts problems in atomics
 * (Criterion asserts only in the main thread), and has .timeout = 60 so a deadlock fails. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "quotakeeper.h"

/* A fixed instant (2024-01-02 10:00:00 UTC, the original's freeze_time): no window rolls over
 * mid-test, so totals are exact whatever the wall clock does. */
static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return INT64_C(1704189600000);
}

/* The spec's services: Tiingo 500/month, Finnhub 60/minute, SendGrid 100/day. */
enum { TIINGO, FINNHUB, SENDGRID };

static qk_service_def def1(const char *name, qk_period p, uint64_t limit)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.windows[0].period = p;
    d.windows[0].limit = limit;
    return d;
}

static qk_tracker *tracker(const qk_service_def *extra, size_t n_extra, qk_event_fn fn,
                           void *payload)
{
    qk_service_def defs[8];
    defs[TIINGO] = def1("tiingo", QK_MONTH, 500);
    defs[FINNHUB] = def1("finnhub", QK_MINUTE, 60);
    defs[SENDGRID] = def1("sendgrid", QK_DAY, 100);
    cr_assert_leq(n_extra, 5);
    for (size_t i = 0; i < n_extra; i++)
        defs[3 + i] = extra[i];
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = 3 + n_extra;
    o.clock = fixed_clock;
    o.on_event = fn;
    o.payload = payload;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "qk_tracker_new: %s", qk_errmsg());
    return t;
}

static uint64_t used(qk_tracker *t, qk_service s, unsigned w)
{
    qk_usage u;
    cr_assert_eq(qk_peek(t, s, &u), QK_OK, "qk_peek: %s", qk_errmsg());
    return u.windows[w].used;
}

/* ---- threads ---- */

#define MAX_THREADS 200

typedef struct shared shared;

typedef struct {
    shared *sh;
    int id;
} worker;

struct shared {
    qk_tracker *t;
    pthread_barrier_t go;
    atomic_int errors;     /* unexpected return codes */
    atomic_int violations; /* broken invariants seen by a thread */
    atomic_int done;       /* writers finished */
    int iters;
    qk_service to[2]; /* record_iters: even threads record to to[0], odd ones to to[1] */
    /* per-test counters */
    atomic_ullong granted, refused, records, reads, resets;
    atomic_ullong started[2], completed[2]; /* the reset test's records, per service */
    atomic_int resurrected;                 /* counts seen after a reset that it had wiped */
};

static void shared_init(shared *sh, qk_tracker *t, unsigned n_threads, int iters)
{
    memset(sh, 0, sizeof *sh);
    sh->t = t;
    sh->iters = iters;
    cr_assert_eq(pthread_barrier_init(&sh->go, NULL, n_threads), 0);
}

static void check(shared *sh, int rc)
{
    if (rc != QK_OK)
        atomic_fetch_add(&sh->errors, 1);
}

static void violation(shared *sh)
{
    atomic_fetch_add(&sh->violations, 1);
}

/* Starts n threads running fn(worker) (fn waits on sh->go first) and joins them all. */
static void run_threads(shared *sh, int n, void *(*fn)(void *))
{
    static pthread_t th[MAX_THREADS];
    static worker w[MAX_THREADS];
    cr_assert_leq(n, MAX_THREADS);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < n; i++) {
        w[i].sh = sh;
        w[i].id = i;
        cr_assert_eq(pthread_create(&th[i], &attr, fn, &w[i]), 0, "pthread_create %d", i);
    }
    pthread_attr_destroy(&attr);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&sh->go);
}

static void assert_clean(shared *sh)
{
    cr_assert_eq(atomic_load(&sh->errors), 0, "%d calls failed", atomic_load(&sh->errors));
    cr_assert_eq(atomic_load(&sh->violations), 0, "%d invariant violations",
                 atomic_load(&sh->violations));
}

/* shared_init, run_threads and assert_clean: n threads of fn, iters each, all calls clean. */
static void run_clean(shared *sh, qk_tracker *t, int n, int iters, void *(*fn)(void *))
{
    shared_init(sh, t, (unsigned)n, iters);
    run_threads(sh, n, fn);
    assert_clean(sh);
}

/* Each thread records iters calls of 1, even threads to sh->to[0], odd ones to sh->to[1]. */
static void *record_iters(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(&w->sh->go);
    for (int k = 0; k < w->sh->iters; k++)
        check(w->sh, qk_record(w->sh->t, w->sh->to[w->id % 2], 1, NULL));
    return NULL;
}

/* run_clean of record_iters: even threads record to a, odd ones to b. */
static void run_records(shared *sh, qk_tracker *t, int n, int iters, qk_service a, qk_service b)
{
    shared_init(sh, t, (unsigned)n, iters);
    sh->to[0] = a;
    sh->to[1] = b;
    run_threads(sh, n, record_iters);
    assert_clean(sh);
}

/* ---- User Story 1: accurate tracking under concurrent load ---- */

/* Catches: B's read-modify-write of the whole tracker overwriting A's concurrent increment. */
Test(spec, hundred_threads_to_a_and_hundred_to_b_count_exactly_100_each, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_records(&sh, t, 200, 1, TIINGO, FINNHUB); /* even threads to tiingo, odd to finnhub */
    cr_assert_eq(used(t, TIINGO, 0), 100);
    cr_assert_eq(used(t, FINNHUB, 0), 100);
    cr_assert_eq(used(t, SENDGRID, 0), 0);
    qk_tracker_free(t);
}

/* Catches: two increments of the same service from one stale read, and a concurrent record
 * writing back a copy taken before the 50 existing calls were counted. */
Test(spec, fifty_existing_plus_fifty_threads_count_exactly_100, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    cr_assert_eq(qk_record(t, TIINGO, 50, NULL), QK_OK);
    cr_assert_eq(used(t, TIINGO, 0), 50);
    shared sh;
    run_records(&sh, t, 50, 1, TIINGO, TIINGO);
    cr_assert_eq(used(t, TIINGO, 0), 100);
    qk_tracker_free(t);
}

#define N_SVC 6

/* Thread i records iters calls, the k-th to service (i + k) % N_SVC, and each call is recorded
 * in both of the service's windows. */
static void *spread_records(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(&w->sh->go);
    for (int k = 0; k < w->sh->iters; k++)
        check(w->sh, qk_record(w->sh->t, (qk_service)((w->id + k) % N_SVC), 1, NULL));
    return NULL;
}

/* Catches: an update to one service overwriting or losing a concurrent update to another. */
Test(spec, several_services_never_lose_each_others_updates, .timeout = 60)
{
    qk_service_def extra[3];
    extra[0] = def1("alpha", QK_HOUR, 1000);
    extra[1] = def1("beta", QK_DAY, 1000);
    extra[1].windows[1].period = QK_FOREVER;
    extra[1].windows[1].limit = 5000;
    extra[2] = def1("gamma", QK_FOREVER, 10);
    qk_tracker *t = tracker(extra, 3, NULL, NULL);
    shared sh;
    run_clean(&sh, t, 60, 30, spread_records); /* 60 x 30 = 1800 calls, 300 per service */
    qk_usage all[N_SVC];
    size_t n = 0;
    cr_assert_eq(qk_snapshot(t, all, N_SVC, &n), QK_OK);
    cr_assert_eq(n, N_SVC);
    for (size_t s = 0; s < N_SVC; s++) {
        cr_assert_eq(all[s].windows[0].used, 300, "service %s: %llu of 300", all[s].name,
                     (unsigned long long)all[s].windows[0].used);
        if (all[s].n_windows > 1)
            cr_assert_eq(all[s].windows[1].used, 300, "service %s window 1", all[s].name);
    }
    qk_tracker_free(t);
}

/* ---- User Story 2: thread-safe reads ---- */

#define RW_WRITERS 8
#define RW_READERS 4

/* Writers record A then B; readers snapshot until the writers are done, then once more. */
static void *a_then_b_or_reader(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pthread_barrier_wait(&sh->go);
    if (w->id < RW_WRITERS) {
        /* At least iters pairs, and on until the readers have overlapped the writers. */
        for (int k = 0; k < sh->iters || atomic_load(&sh->reads) < 50; k++) {
            check(sh, qk_record(sh->t, TIINGO, 1, NULL));
            check(sh, qk_record(sh->t, SENDGRID, 1, NULL));
            atomic_fetch_add(&sh->records, 1);
        }
        atomic_fetch_add(&sh->done, 1);
        return NULL;
    }
    uint64_t last_a = 0, last_b = 0;
    for (int last = 0; !last;) {
        last = atomic_load(&sh->done) == RW_WRITERS;
        qk_usage u[3];
        size_t n = 0;
        const int rc = qk_snapshot(sh->t, u, 3, &n);
        check(sh, rc);
        if (rc != QK_OK || n != 3)
            continue;
        atomic_fetch_add(&sh->reads, 1);
        const uint64_t a = u[TIINGO].windows[0].used, b = u[SENDGRID].windows[0].used;
        if (a < b || a < last_a || b < last_b)
            violation(sh);
        last_a = a;
        last_b = b;
    }
    return NULL;
}

/* Catches: a snapshot that is not one cut (B's record seen, A's earlier one not) and a count
 * going down because a stale copy was written back. */
Test(spec, snapshot_readers_see_a_at_least_b_and_never_a_count_going_down, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_clean(&sh, t, RW_WRITERS + RW_READERS, 250, a_then_b_or_reader);
    cr_assert_geq(atomic_load(&sh.reads), 50);
    const unsigned long long pairs = atomic_load(&sh.records);
    cr_assert_geq(pairs, RW_WRITERS * 250);
    cr_assert_eq(used(t, TIINGO, 0), pairs);
    cr_assert_eq(used(t, SENDGRID, 0), pairs);
    qk_tracker_free(t);
}

#define HC_WRITERS 16
#define HC_READERS 8

/* Writers: record tiingo, record sendgrid, priority-consume "bulk" (never refuses: its limit is
 * far above the total). Readers: peek, snapshot, find, in turn. */
static void *high_contention(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pthread_barrier_wait(&sh->go);
    if (w->id < HC_WRITERS) {
        for (int k = 0; k < sh->iters; k++) {
            check(sh, qk_record(sh->t, TIINGO, 1, NULL));
            check(sh, qk_record(sh->t, SENDGRID, 2, NULL));
            check(sh, qk_try_consume(sh->t, 3, 1, QK_PRIORITY, NULL));
        }
        atomic_fetch_add(&sh->done, 1);
        return NULL;
    }
    while (atomic_load(&sh->done) < HC_WRITERS) {
        qk_usage u[4];
        size_t n = 0;
        qk_service s = 0;
        check(sh, qk_peek(sh->t, (qk_service)(w->id % 4), &u[0]));
        check(sh, qk_snapshot(sh->t, u, 4, &n));
        check(sh, qk_service_find(sh->t, "bulk", &s));
        if (n != 4 || s != 3)
            violation(sh);
        atomic_fetch_add(&sh->reads, 1);
    }
    return NULL;
}

/* Catches: deadlock between snapshot (all slots) and single-slot writers, and lost updates
 * under heavy contention from both. */
Test(spec, high_contention_many_readers_and_writers_exact_totals, .timeout = 60)
{
    qk_service_def bulk = def1("bulk", QK_DAY, 1000000);
    qk_tracker *t = tracker(&bulk, 1, NULL, NULL);
    shared sh;
    run_clean(&sh, t, HC_WRITERS + HC_READERS, 300, high_contention);
    cr_assert_eq(used(t, TIINGO, 0), HC_WRITERS * 300);
    cr_assert_eq(used(t, SENDGRID, 0), HC_WRITERS * 300 * 2);
    cr_assert_eq(used(t, 3, 0), HC_WRITERS * 300);
    cr_assert_eq(used(t, FINNHUB, 0), 0);
    qk_tracker_free(t);
}

/* ---- User Story 3: the original's flaky test, by name ---- */

/* Catches: the 1179 bug itself, finnhub's write-back of a stale tracker erasing tiingo's calls
 * (the original saw 52 instead of 100). */
Test(spec, test_different_services_can_be_updated_concurrently, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_records(&sh, t, 2, 100, TIINGO, FINNHUB); /* 100 each to its own service */
    cr_assert_eq(used(t, TIINGO, 0), 100, "tiingo lost updates");
    cr_assert_eq(used(t, FINNHUB, 0), 100, "finnhub lost updates");
    qk_tracker_free(t);
}

/* ---- the original thread-safety suite's shapes ---- */

/* Catches: two records of one service reading the same old count (original test 17). */
Test(spec, concurrent_record_calls_10_threads_x_50, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_records(&sh, t, 10, 50, TIINGO, TIINGO);
    cr_assert_eq(used(t, TIINGO, 0), 500);
    qk_tracker_free(t);
}

/* Catches: lost updates when 50 threads start at the same instant (original test 22); far over
 * the limit of 100, since record never refuses. */
Test(spec, high_contention_50_threads_behind_a_barrier_x_20, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_records(&sh, t, 50, 20, SENDGRID, SENDGRID);
    qk_usage u;
    cr_assert_eq(qk_peek(t, SENDGRID, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 1000);
    cr_assert_eq(u.level, QK_LEVEL_EXHAUSTED);
    cr_assert_eq(u.remaining, 0);
    qk_tracker_free(t);
}

/* 20 concurrent checks of a fresh tracker all see a call allowed (original test 18). */
static void *check_fresh(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(&w->sh->go);
    qk_usage u;
    const int rc = qk_peek(w->sh->t, TIINGO, &u);
    check(w->sh, rc);
    if (rc == QK_OK && (u.remaining != 500 || u.level != QK_LEVEL_OK))
        violation(w->sh);
    return NULL;
}

/* Catches: a read that changes or tears state (peeks racing each other). */
Test(spec, concurrent_checks_20_threads_all_allowed, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_clean(&sh, t, 20, 1, check_fresh);
    cr_assert_eq(used(t, TIINGO, 0), 0);
    qk_tracker_free(t);
}

/* 2 recorders x 100 finnhub; 2 checkers x 100 (peek, then try_consume of 1). */
static void *record_or_check(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pthread_barrier_wait(&sh->go);
    if (w->id < 2) {
        for (int k = 0; k < 100; k++)
            check(sh, qk_record(sh->t, FINNHUB, 1, NULL));
        return NULL;
    }
    uint64_t last = 0;
    for (int k = 0; k < 100; k++) {
        qk_usage u;
        const int rc = qk_peek(sh->t, FINNHUB, &u);
        check(sh, rc);
        if (rc == QK_OK) {
            if (u.windows[0].used < last)
                violation(sh);
            last = u.windows[0].used;
        }
        const int c = qk_try_consume(sh->t, FINNHUB, 1, 0, &u);
        if (c == QK_OK)
            atomic_fetch_add(&sh->granted, 1);
        else if (c == QK_ELIMIT && u.tripped == 0 && u.windows[0].used >= 60)
            atomic_fetch_add(&sh->refused, 1);
        else
            check(sh, c == QK_ELIMIT ? -100 : c);
    }
    return NULL;
}

/* Catches: a checker's consume and a recorder's record overwriting each other, and a checker
 * seeing the count go down (original test 19). */
Test(spec, mixed_recorders_and_checkers, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_clean(&sh, t, 4, 100, record_or_check);
    const unsigned long long granted = atomic_load(&sh.granted);
    cr_assert_leq(granted, 60, "consume granted %llu calls over a limit of 60", granted);
    cr_assert_eq(granted + atomic_load(&sh.refused), 200);
    cr_assert_eq(used(t, FINNHUB, 0), 200 + granted);
    qk_tracker_free(t);
}

/* ---- reset during concurrent access (edge case 1: the cache cleared mid record_call) ---- */

#define RS_WRITERS 6
#define RS_PHASE2  40

/* "r" and "q" each have two windows that every operation moves together, so any snapshot or
 * record result with unequal windows has seen half a record or half a reset. */
static int torn(const qk_usage *u)
{
    return u->n_windows != 2 || u->windows[0].used != u->windows[1].used;
}

static pthread_barrier_t rs_phase; /* every thread + main, between the phases */

static void *reset_race(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    qk_tracker *t = sh->t;
    pthread_barrier_wait(&sh->go);
    if (w->id < RS_WRITERS) {
        /* At least iters records, and on until the resetter has reset 30 times meanwhile. */
        for (int k = 0; k < sh->iters || atomic_load(&sh->resets) < 30; k++) {
            qk_usage u;
            const qk_service s = 3 + (qk_service)(k % 2);
            atomic_fetch_add(&sh->started[k % 2], 1);
            const int rc = qk_record(t, s, 1, &u);
            atomic_fetch_add(&sh->completed[k % 2], 1);
            check(sh, rc);
            /* My own call is in the count I get back, in both windows. */
            if (rc == QK_OK && (torn(&u) || u.windows[0].used < 1))
                violation(sh);
        }
        atomic_fetch_add(&sh->done, 1);
        /* Phase 2: main resets everything; then every call must survive. */
        pthread_barrier_wait(&rs_phase);
        pthread_barrier_wait(&rs_phase);
        for (int k = 0; k < RS_PHASE2; k++)
            if (qk_record(t, 3 + (qk_service)(k % 2), 1, NULL) == QK_OK)
                atomic_fetch_add(&sh->records, 1);
            else
                check(sh, -100);
        return NULL;
    }
    /* The resetter (id RS_WRITERS) and a reader (id RS_WRITERS + 1). */
    for (int k = 0; atomic_load(&sh->done) < RS_WRITERS; k++) {
        if (w->id == RS_WRITERS) {
            /* Records completed before the reset began are wiped for good: a count read after
             * it can only hold records started since, at most started - completed_before. */
            const int all = k % 3 == 2, which = k % 2;
            unsigned long long before[2];
            for (int i = 0; i < 2; i++)
                before[i] = atomic_load(&sh->completed[i]);
            check(sh, all ? qk_reset_all(t) : qk_reset(t, 3 + (qk_service)which));
            atomic_fetch_add(&sh->resets, 1);
            for (int i = 0; i < 2; i++) {
                if (!all && i != which)
                    continue;
                qk_usage p;
                const int rc = qk_peek(t, 3 + (qk_service)i, &p);
                check(sh, rc);
                const unsigned long long since = atomic_load(&sh->started[i]) - before[i];
                if (rc == QK_OK && (torn(&p) || p.windows[0].used > since))
                    atomic_fetch_add(&sh->resurrected, 1);
            }
        }
        qk_usage u[5];
        size_t n = 0;
        const int rc = qk_snapshot(t, u, 5, &n);
        check(sh, rc);
        if (rc == QK_OK && (n != 5 || torn(&u[3]) || torn(&u[4])))
            violation(sh);
    }
    /* Stop before main's final reset, and stay stopped through phase 2. */
    pthread_barrier_wait(&rs_phase);
    pthread_barrier_wait(&rs_phase);
    return NULL;
}

/* Catches: a reset torn around a record (one window zeroed, the record lands, the other window
 * zeroed), and a stale copy written back over a reset (wiped calls come back) or over records. */
Test(spec, reset_during_concurrent_access_is_atomic, .timeout = 60)
{
    qk_service_def extra[2];
    extra[0] = def1("r", QK_DAY, 1000000);
    extra[0].windows[1].period = QK_FOREVER;
    extra[0].windows[1].limit = 1000000;
    extra[1] = def1("q", QK_HOUR, 1000000);
    extra[1].windows[1].period = QK_MONTH;
    extra[1].windows[1].limit = 1000000;
    qk_tracker *t = tracker(extra, 2, NULL, NULL);
    shared sh;
    shared_init(&sh, t, RS_WRITERS + 2, 300);
    cr_assert_eq(pthread_barrier_init(&rs_phase, NULL, RS_WRITERS + 3), 0);

    /* Not run_threads: main takes part in the phase barrier. */
    pthread_t all[RS_WRITERS + 2];
    worker w[RS_WRITERS + 2];
    for (int i = 0; i < RS_WRITERS + 2; i++) {
        w[i].sh = &sh;
        w[i].id = i;
        cr_assert_eq(pthread_create(&all[i], NULL, reset_race, &w[i]), 0);
    }
    pthread_barrier_wait(&rs_phase); /* phase 1 over: every thread has stopped */
    const int rc_reset = qk_reset_all(t);
    qk_usage u[5];
    size_t n = 0;
    const int rc_snap = qk_snapshot(t, u, 5, &n);
    pthread_barrier_wait(&rs_phase); /* phase 2 starts */
    for (int i = 0; i < RS_WRITERS + 2; i++)
        pthread_join(all[i], NULL);
    pthread_barrier_destroy(&rs_phase);
    pthread_barrier_destroy(&sh.go);

    cr_assert_eq(rc_reset, QK_OK);
    cr_assert_eq(rc_snap, QK_OK);
    for (size_t s = 0; s < n; s++)
        cr_assert_eq(u[s].windows[0].used, 0, "service %zu not wiped by reset_all", s);
    cr_assert_eq(atomic_load(&sh.resurrected), 0,
                 "%d times a count read right after a reset held records the reset had wiped",
                 atomic_load(&sh.resurrected));
    assert_clean(&sh);
    cr_assert_eq(atomic_load(&sh.records), RS_WRITERS * RS_PHASE2);
    for (qk_service s = 3; s <= 4; s++) {
        cr_assert_eq(used(t, s, 0), RS_WRITERS * RS_PHASE2 / 2, "service %u window 0", s);
        cr_assert_eq(used(t, s, 1), RS_WRITERS * RS_PHASE2 / 2, "service %u window 1", s);
    }
    qk_tracker_free(t);
}

/* ---- edge case 2: contention at the critical threshold ---- */

typedef struct {
    atomic_int by_level[4]; /* events by their `to` level */
    atomic_int total;
    atomic_int bad;
    atomic_ullong critical_used, exhausted_used;
    atomic_uint seq_seen; /* bit seq-1 for every seq delivered */
} event_counts;

static void count_event(const qk_event *ev, void *payload)
{
    event_counts *c = payload;
    atomic_fetch_add(&c->total, 1);
    if (ev->to <= QK_LEVEL_EXHAUSTED)
        atomic_fetch_add(&c->by_level[ev->to], 1);
    if (ev->service != SENDGRID || ev->window != 0 || ev->limit != 100 || ev->seq < 1 ||
        ev->seq > 16 || ev->name == NULL || strcmp(ev->name, "sendgrid") != 0)
        atomic_fetch_add(&c->bad, 1);
    else if (atomic_fetch_or(&c->seq_seen, 1u << (ev->seq - 1)) & (1u << (ev->seq - 1)))
        atomic_fetch_add(&c->bad, 1); /* a seq delivered twice */
    if (ev->to == QK_LEVEL_CRITICAL)
        atomic_store(&c->critical_used, ev->used);
    if (ev->to == QK_LEVEL_EXHAUSTED)
        atomic_store(&c->exhausted_used, ev->used);
}

/* Catches: two threads both seeing the crossing (check outside the lock) and alerting twice, or
 * none alerting because the level was updated from a stale count. */
Test(spec, critical_threshold_crossed_by_many_threads_yields_exactly_one_critical_event,
     .timeout = 60)
{
    event_counts c;
    memset(&c, 0, sizeof c);
    qk_tracker *t = tracker(NULL, 0, count_event, &c);
    cr_assert_eq(qk_record(t, SENDGRID, 79, NULL), QK_OK); /* one below 80 % of 100 */
    cr_assert_eq(atomic_load(&c.total), 1, "OK -> WARN at 79");
    cr_assert_eq(atomic_load(&c.by_level[QK_LEVEL_WARN]), 1);

    shared sh;
    run_records(&sh, t, 64, 1, SENDGRID, SENDGRID);
    cr_assert_eq(used(t, SENDGRID, 0), 143);
    cr_assert_eq(atomic_load(&c.by_level[QK_LEVEL_CRITICAL]), 1, "CRITICAL events: %d",
                 atomic_load(&c.by_level[QK_LEVEL_CRITICAL]));
    cr_assert_eq(atomic_load(&c.critical_used), 80);
    cr_assert_eq(atomic_load(&c.by_level[QK_LEVEL_EXHAUSTED]), 1, "EXHAUSTED events: %d",
                 atomic_load(&c.by_level[QK_LEVEL_EXHAUSTED]));
    cr_assert_eq(atomic_load(&c.exhausted_used), 100);
    cr_assert_eq(atomic_load(&c.total), 3);
    cr_assert_eq(atomic_load(&c.bad), 0, "events with wrong fields or a repeated seq");
    cr_assert_eq(atomic_load(&c.seq_seen), 0x7u, "seqs 1, 2, 3 each exactly once");
    qk_tracker_free(t);
}

/* ---- edge case 3: try_consume raced at the limit ---- */

static void *consume_three(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pthread_barrier_wait(&sh->go);
    for (int k = 0; k < 3; k++) {
        qk_usage u;
        const int rc = qk_try_consume(sh->t, FINNHUB, 1, 0, &u);
        if (rc == QK_OK) {
            atomic_fetch_add(&sh->granted, 1);
            if (u.windows[0].used > 60 || u.tripped != -1)
                violation(sh);
        } else if (rc == QK_ELIMIT) {
            atomic_fetch_add(&sh->refused, 1);
            if (u.tripped != 0 || u.windows[0].used != 60 || u.remaining != 0)
                violation(sh);
        } else {
            check(sh, rc);
        }
    }
    return NULL;
}

/* Catches: check-then-act, two threads both seeing the 60th call free and both taking it. */
Test(spec, try_consume_raced_by_many_threads_grants_exactly_the_limit, .timeout = 60)
{
    qk_tracker *t = tracker(NULL, 0, NULL, NULL);
    shared sh;
    run_clean(&sh, t, 100, 3, consume_three);
    cr_assert_eq(atomic_load(&sh.granted), 60, "granted %llu of 60",
                 (unsigned long long)atomic_load(&sh.granted));
    cr_assert_eq(atomic_load(&sh.refused), 240);
    cr_assert_eq(atomic_load(&sh.granted) + atomic_load(&sh.refused), 300);
    cr_assert_eq(used(t, FINNHUB, 0), 60);
    qk_tracker_free(t);
}
