/* Counting operations: qk_try_consume (all-or-nothing over every window, the binding window,
 * the reserve, flags), qk_record (never refuses), qk_refund, qk_set_used, qk_reset and
 * qk_reset_all. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>

#include "clock.h"
#include "evrec.h"
#include "qkt_criterion.h"
#include "usage.h"
#include "utc.h"

static qkt_clock clk;

#define MINUTE_START qkt_utc(2024, 1, 2, 10, 0, 0, 0)
#define MINUTE_END   qkt_utc(2024, 1, 2, 10, 1, 0, 0)
#define DAY_END      qkt_utc(2024, 1, 3, 0, 0, 0, 0)

/* finnhub: 60/minute and 1000/day (index 0); sendgrid: 100/day with a reserve of 10 (index 1). */
static qk_tracker *spec_tracker(void)
{
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 0, 30, 0));
    qk_service_def defs[2] = {qkt_svc_def("finnhub", QK_MINUTE, 60, QK_DAY, 1000),
                              qkt_svc_def("sendgrid", QK_DAY, 100, QK_MINUTE, 0)};
    defs[1].reserve = 10;
    return new_tracker(defs, 2, 0, &clk, NULL);
}

Test(consume, counts_in_every_window_and_reports_the_binding_one)
{
    qk_tracker *t = spec_tracker();
    qk_usage u;
    cr_assert_eq(qk_try_consume(t, 0, 10, 0, &u), QK_OK);
    cr_assert_eq(u.tripped, -1);
    cr_assert_eq(u.windows[0].used, 10);
    cr_assert_eq(u.windows[1].used, 10);
    cr_assert_eq(u.windows[0].remaining, 50);
    cr_assert_eq(u.windows[1].remaining, 990);
    cr_assert_eq(u.remaining, 50, "binding: least remaining (the minute)");
    cr_assert_eq(u.reset_at_ms, MINUTE_END);
    cr_assert_str_eq(u.name, "finnhub");
    cr_assert_eq(u.service, 0);
    /* The day becomes the binding window once it has less left. */
    cr_assert_eq(qk_set_used(t, 0, 1, 995), QK_OK);
    u = peek(t, 0);
    cr_assert_eq(u.remaining, 5);
    cr_assert_eq(u.reset_at_ms, DAY_END);
    qk_tracker_free(t);
}

/* 60/minute and 1000/day: whichever refuses is named, and nothing is counted anywhere. */
Test(consume, all_or_nothing_across_windows)
{
    qk_tracker *t = spec_tracker();
    qk_usage u;
    /* The day refuses (995 + 10 > 1000) though the minute has room. */
    cr_assert_eq(qk_set_used(t, 0, 1, 995), QK_OK);
    cr_assert_eq(qk_try_consume(t, 0, 10, 0, &u), QK_ELIMIT);
    cr_assert_eq(u.tripped, 1);
    cr_assert_eq(u.windows[0].used, 0, "the minute counted a refused consume");
    cr_assert_eq(u.windows[1].used, 995);
    cr_assert_eq(u.remaining, 5, "remaining of the tripped window");
    cr_assert_eq(u.reset_at_ms, DAY_END);
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(used_of(t, 0, 1), 995);
    /* Exactly what is left fits. */
    cr_assert_eq(qk_try_consume(t, 0, 5, 0, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 5);
    cr_assert_eq(u.windows[1].used, 1000);
    cr_assert_eq(u.remaining, 0);
    cr_assert_eq(qk_try_consume(t, 0, 1, QK_PRIORITY, &u), QK_ELIMIT);
    cr_assert_eq(u.tripped, 1);
    qk_tracker_free(t);

    /* The minute refuses; the day is untouched. */
    t = spec_tracker();
    cr_assert_eq(qk_try_consume(t, 0, 61, 0, &u), QK_ELIMIT);
    cr_assert_eq(u.tripped, 0);
    cr_assert_eq(u.windows[1].used, 0);
    for (int i = 0; i < 60; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "call %d", i + 1);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_ELIMIT);
    cr_assert_eq(u.tripped, 0);
    cr_assert_eq(u.remaining, 0);
    cr_assert_eq(u.reset_at_ms, MINUTE_END);
    cr_assert_eq(u.level, QK_LEVEL_EXHAUSTED);
    cr_assert_eq(used_of(t, 0, 1), 60);
    /* The next minute grants again; the day keeps counting. */
    qkt_clock_set(&clk, MINUTE_END);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 1);
    cr_assert_eq(u.windows[1].used, 61);
    qk_tracker_free(t);
}

/* Both windows too full: the first refusing window is named, and it binds even when another
 * window has less left (the header: "the tripped one, else the least remaining"). */
Test(consume, tripped_window_binds)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_set_used(t, 0, 0, 50), QK_OK);  /* minute: 10 left */
    cr_assert_eq(qk_set_used(t, 0, 1, 995), QK_OK); /* day: 5 left */
    qk_usage u;
    cr_assert_eq(qk_try_consume(t, 0, 20, 0, &u), QK_ELIMIT);
    cr_assert_eq(u.tripped, 0);
    cr_assert_eq(u.remaining, 10);
    cr_assert_eq(u.reset_at_ms, MINUTE_END);
    /* Without a refusal, the least remaining binds. */
    u = peek(t, 0);
    cr_assert_eq(u.tripped, -1);
    cr_assert_eq(u.remaining, 5);
    qk_tracker_free(t);
}

Test(consume, refusal_of_an_oversized_request)
{
    qk_tracker *t = spec_tracker();
    qk_usage u;
    cr_assert_eq(qk_try_consume(t, 0, UINT64_MAX, QK_PRIORITY, &u), QK_ELIMIT);
    cr_assert_eq(u.tripped, 0);
    cr_assert_eq(qk_try_consume(t, 0, 1001, QK_PRIORITY, &u), QK_ELIMIT);
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(used_of(t, 0, 1), 0);
    qk_tracker_free(t);
}

/* sendgrid 100/day, reserve 10: ordinary callers get 90, QK_PRIORITY callers the last 10. */
Test(consume, reserve_is_for_priority_callers)
{
    qk_tracker *t = spec_tracker();
    qk_usage u;
    cr_assert_eq(qk_try_consume(t, 1, 90, 0, &u), QK_OK);
    cr_assert_eq(u.remaining, 10, "remaining ignores the reserve");
    cr_assert_eq(qk_try_consume(t, 1, 1, 0, &u), QK_ELIMIT, "non-priority inside the reserve");
    cr_assert_eq(u.tripped, 0);
    cr_assert_eq(u.windows[0].used, 90);
    cr_assert_eq(qk_try_consume(t, 1, 11, QK_PRIORITY, &u), QK_ELIMIT, "over the limit");
    cr_assert_eq(qk_try_consume(t, 1, 10, QK_PRIORITY, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 100);
    cr_assert_eq(qk_try_consume(t, 1, 1, QK_PRIORITY, &u), QK_ELIMIT);
    cr_assert_eq(used_of(t, 1, 0), 100);
    qk_tracker_free(t);

    /* A non-priority request that straddles the reserve is refused whole. */
    t = spec_tracker();
    cr_assert_eq(qk_try_consume(t, 1, 85, 0, NULL), QK_OK);
    cr_assert_eq(qk_try_consume(t, 1, 6, 0, &u), QK_ELIMIT);
    cr_assert_eq(used_of(t, 1, 0), 85);
    cr_assert_eq(qk_try_consume(t, 1, 5, 0, NULL), QK_OK);
    /* Recorded calls past the reserve line keep ordinary callers out. */
    cr_assert_eq(qk_record(t, 1, 5, NULL), QK_OK); /* 95 */
    cr_assert_eq(qk_try_consume(t, 1, 1, 0, &u), QK_ELIMIT);
    cr_assert_eq(qk_try_consume(t, 1, 5, QK_PRIORITY, NULL), QK_OK);
    qk_tracker_free(t);
}

Test(consume, priority_flag_without_reserve_changes_nothing)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_try_consume(t, 0, 60, QK_PRIORITY, NULL), QK_OK);
    cr_assert_eq(qk_try_consume(t, 0, 1, QK_PRIORITY, NULL), QK_ELIMIT);
    qk_tracker_free(t);
}

Test(consume, out_may_be_null)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_try_consume(t, 0, 3, 0, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 0, 4, NULL), QK_OK);
    cr_assert_eq(qk_try_consume(t, 0, 100, 0, NULL), QK_ELIMIT);
    cr_assert_eq(used_of(t, 0, 0), 7);
    qk_tracker_free(t);
}

/* ---- record ---- */

/* Calls already made are counted whatever the limit (original test 11: 495 + 10 = 505). */
Test(record, never_refuses_past_the_limit)
{
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 0, 0, 0));
    const qk_service_def d = qkt_svc_def("tiingo", QK_MONTH, 500, QK_MINUTE, 0);
    qk_tracker *t = new_tracker(&d, 1, 0, &clk, NULL);
    qk_usage u;
    cr_assert_eq(qk_record(t, 0, 495, &u), QK_OK);
    cr_assert_eq(u.remaining, 5);
    cr_assert_eq(u.level, QK_LEVEL_CRITICAL);
    cr_assert_eq(qk_record(t, 0, 10, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 505);
    cr_assert_eq(u.windows[0].remaining, 0);
    cr_assert_eq(u.remaining, 0);
    cr_assert_eq(u.level, QK_LEVEL_EXHAUSTED);
    cr_assert_eq(u.windows[0].level, QK_LEVEL_EXHAUSTED);
    cr_assert_eq(u.tripped, -1);
    cr_assert_eq(u.reset_at_ms, qkt_utc(2024, 2, 1, 0, 0, 0, 0));
    cr_assert_eq(qk_record(t, 0, 1000, NULL), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 1505);
    qk_tracker_free(t);
}

Test(record, original_model_numbers)
{
    /* tiingo +10, finnhub +5, sendgrid +2: each counted on its own service. */
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 0, 0, 0));
    const qk_service_def defs[3] = {qkt_svc_def("tiingo", QK_MONTH, 500, QK_MINUTE, 0),
                                    qkt_svc_def("finnhub", QK_MINUTE, 60, QK_MINUTE, 0),
                                    qkt_svc_def("sendgrid", QK_DAY, 100, QK_MINUTE, 0)};
    qk_tracker *t = new_tracker(defs, 3, 0, &clk, NULL);
    cr_assert_eq(qk_record(t, 0, 10, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 1, 5, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 2, 2, NULL), QK_OK);
    qk_usage all[3];
    size_t n = 0;
    cr_assert_eq(qk_snapshot(t, all, 3, &n), QK_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(all[0].windows[0].used + all[1].windows[0].used + all[2].windows[0].used, 17);
    cr_assert_eq(all[0].remaining, 490);
    cr_assert_eq(all[1].remaining, 55);
    cr_assert_eq(all[2].remaining, 98);
    /* finnhub at 54 of 60 (90 %) is CRITICAL. */
    cr_assert_eq(qk_set_used(t, 1, 0, 54), QK_OK);
    cr_assert_eq(peek(t, 1).level, QK_LEVEL_CRITICAL);
    qk_tracker_free(t);
}

/* ---- refund ---- */

Test(refund, gives_back_in_every_current_window_never_below_zero)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_record(t, 0, 10, NULL), QK_OK);
    cr_assert_eq(qk_refund(t, 0, 4), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 6);
    cr_assert_eq(used_of(t, 0, 1), 6);
    cr_assert_eq(qk_refund(t, 0, 100), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(used_of(t, 0, 1), 0);
    cr_assert_eq(qk_refund(t, 0, UINT64_MAX), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 0);
    /* Windows with different counts each stop at 0 on their own. */
    cr_assert_eq(qk_set_used(t, 0, 1, 500), QK_OK);
    cr_assert_eq(qk_set_used(t, 0, 0, 3), QK_OK);
    cr_assert_eq(qk_refund(t, 0, 7), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(used_of(t, 0, 1), 493);
    qk_tracker_free(t);
}

/* After the minute rolled over, a refund takes from the new minute only what that holds (the
 * old minute's calls are gone with it) and the rest from the day, which still counts them. */
Test(refund, only_touches_current_windows)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_record(t, 0, 10, NULL), QK_OK);
    qkt_clock_set(&clk, MINUTE_END);
    cr_assert_eq(qk_record(t, 0, 2, NULL), QK_OK);
    cr_assert_eq(qk_refund(t, 0, 5), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(used_of(t, 0, 1), 7);
    /* The refunded calls can be consumed again. */
    cr_assert_eq(qk_try_consume(t, 0, 60, 0, NULL), QK_OK);
    qk_tracker_free(t);
}

/* ---- set_used ---- */

Test(set_used, resyncs_one_window)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_record(t, 0, 10, NULL), QK_OK);
    cr_assert_eq(qk_set_used(t, 0, 1, 700), QK_OK);
    qk_usage u = peek(t, 0);
    cr_assert_eq(u.windows[0].used, 10, "the other window keeps its count");
    cr_assert_eq(u.windows[1].used, 700);
    cr_assert_eq(u.windows[1].level, QK_LEVEL_WARN);
    cr_assert_eq(qk_set_used(t, 0, 0, 0), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(qk_set_used(t, 0, 0, 5000), QK_OK, "above the limit is allowed");
    u = peek(t, 0);
    cr_assert_eq(u.windows[0].used, 5000);
    cr_assert_eq(u.windows[0].remaining, 0);
    cr_assert_eq(u.level, QK_LEVEL_EXHAUSTED);
    cr_assert_eq(qk_set_used(t, 0, 2, 1), QK_EINVAL);
    cr_assert_eq(qk_set_used(t, 1, 1, 1), QK_EINVAL);
    qk_tracker_free(t);
}

/* The provider's figure lands in the current window, even when the last access was in an
 * earlier one. */
Test(set_used, applies_to_the_current_window)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_record(t, 0, 10, NULL), QK_OK);
    qkt_clock_set(&clk, MINUTE_END + 5000);
    cr_assert_eq(qk_set_used(t, 0, 0, 3), QK_OK);
    const qk_usage u = peek(t, 0);
    cr_assert_eq(u.windows[0].window_start_ms, MINUTE_END);
    cr_assert_eq(u.windows[0].used, 3);
    qk_tracker_free(t);
}

/* ---- reset and reset_all ---- */

Test(reset, zeroes_one_service_only)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_record(t, 0, 30, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 1, 40, NULL), QK_OK);
    cr_assert_eq(qk_reset(t, 0), QK_OK);
    qk_usage u = peek(t, 0);
    cr_assert_eq(u.windows[0].used, 0);
    cr_assert_eq(u.windows[1].used, 0);
    cr_assert_eq(u.level, QK_LEVEL_OK);
    cr_assert_eq(u.remaining, 60);
    cr_assert_eq(u.windows[0].window_start_ms, MINUTE_START, "reset keeps the window's bounds");
    cr_assert_eq(used_of(t, 1, 0), 40);
    cr_assert_eq(qk_reset(t, 0), QK_OK, "resetting an empty service is fine");
    qk_tracker_free(t);
}

Test(reset, reset_all_zeroes_every_service)
{
    qk_tracker *t = spec_tracker();
    cr_assert_eq(qk_record(t, 0, 30, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 1, 95, NULL), QK_OK);
    cr_assert_eq(qk_reset_all(t), QK_OK);
    qk_usage all[2];
    size_t n;
    cr_assert_eq(qk_snapshot(t, all, 2, &n), QK_OK);
    cr_assert_eq(n, 2);
    for (size_t s = 0; s < 2; s++)
        for (unsigned w = 0; w < all[s].n_windows; w++) {
            cr_assert_eq(all[s].windows[w].used, 0, "service %zu window %u", s, w);
            cr_assert_eq(all[s].windows[w].level, QK_LEVEL_OK);
        }
    /* Counting resumes normally. */
    cr_assert_eq(qk_try_consume(t, 1, 90, 0, NULL), QK_OK);
    qk_tracker_free(t);
}

/* ---- try_consume under threads, with the reserve ---- */

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    int priority;
    atomic_ullong *granted_plain, *granted_prio;
    atomic_int *errors;
} reserve_job;

static void *reserve_racer(void *arg)
{
    reserve_job *j = arg;
    pthread_barrier_wait(j->go);
    for (;;) {
        const int rc = qk_try_consume(j->t, 1, 1, j->priority ? QK_PRIORITY : 0, NULL);
        if (rc == QK_ELIMIT)
            break; /* full for this kind of caller: it stays full (no refunds, no rollover) */
        if (rc != QK_OK) {
            atomic_fetch_add(j->errors, 1);
            break;
        }
        atomic_fetch_add(j->priority ? j->granted_prio : j->granted_plain, 1);
    }
    return NULL;
}

/* Catches: a racing check of the reserve line letting ordinary callers past it, or the limit
 * being overrun by priority callers racing ordinary ones. */
Test(consume, threads_race_for_the_reserve, .timeout = 60)
{
    qk_tracker *t = spec_tracker(); /* sendgrid: 100/day, reserve 10 */
    enum { PLAIN = 12, PRIO = 4 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, PLAIN + PRIO);
    atomic_ullong plain = 0, prio = 0;
    atomic_int errors = 0;
    reserve_job jobs[PLAIN + PRIO];
    pthread_t th[PLAIN + PRIO];
    for (int i = 0; i < PLAIN + PRIO; i++) {
        jobs[i] = (reserve_job){t, &go, i >= PLAIN, &plain, &prio, &errors};
        cr_assert_eq(pthread_create(&th[i], NULL, reserve_racer, &jobs[i]), 0);
    }
    for (int i = 0; i < PLAIN + PRIO; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    cr_assert_eq(atomic_load(&errors), 0);
    cr_assert_leq(atomic_load(&plain), 90, "ordinary callers got %llu of 90",
                  (unsigned long long)atomic_load(&plain));
    cr_assert_eq(atomic_load(&plain) + atomic_load(&prio), 100,
                 "priority callers run until the limit itself refuses them");
    cr_assert_eq(used_of(t, 1, 0), 100);
    qk_tracker_free(t);
}
