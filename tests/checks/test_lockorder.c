/* The debug lock-order checker (src/lockorder.c) aborts on every breach of the hierarchy, naming
 * both locks, and lets every legal order through.
 *
 * Hierarchy (docs/design.md): the snapshot lock (rank -1), then slot locks by ascending index;
 * two slot locks only under the snapshot lock. Built against qk_lockchecked, the library's own
 * sources compiled with QK_LOCK_CHECKS whatever the build type, so these tests run in every
 * build that has Criterion.
 *
 * Three groups:
 * - the checker alone, called directly: deliberate inversions abort with SIGABRT (Criterion
 *   .signal), and the same inversions in a forked child abort with a message naming both locks;
 * - through the library's real locks: the test takes a slot lock the way the library does
 *   (checker, then mutex) and then calls the API, as a callback run under a lock would; the
 *   library's own acquisition then aborts before it can deadlock;
 * - legal orders, and every operation of the API including event callbacks that call back in,
 *   run to the end without an abort. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "lockorder.h"
#include "procs.h"
#include "quotakeeper.h"
#include "tracker.h"

#define SNAP    QK_RANK_SNAPSHOT
#define SLOT(i) QK_RANK_SLOT(i)

/* ---- the checker alone: each inversion aborts ---- */

Test(lockorder, slot_then_snapshot_aborts, .signal = SIGABRT)
{
    qk__lockorder_acquire(SLOT(0));
    qk__lockorder_acquire(SNAP);
}

Test(lockorder, slot_2_then_slot_1_under_snapshot_aborts, .signal = SIGABRT)
{
    qk__lockorder_acquire(SNAP);
    qk__lockorder_acquire(SLOT(2));
    qk__lockorder_acquire(SLOT(1));
}

Test(lockorder, two_slots_outside_the_snapshot_path_abort, .signal = SIGABRT)
{
    /* Ascending, but without the snapshot lock: two single-service operations nested. */
    qk__lockorder_acquire(SLOT(1));
    qk__lockorder_acquire(SLOT(2));
}

Test(lockorder, the_same_slot_twice_aborts, .signal = SIGABRT)
{
    qk__lockorder_acquire(SNAP);
    qk__lockorder_acquire(SLOT(3));
    qk__lockorder_acquire(SLOT(3));
}

Test(lockorder, the_snapshot_lock_twice_aborts, .signal = SIGABRT)
{
    qk__lockorder_acquire(SNAP);
    qk__lockorder_acquire(SNAP);
}

Test(lockorder, releasing_out_of_order_aborts, .signal = SIGABRT)
{
    qk__lockorder_acquire(SNAP);
    qk__lockorder_acquire(SLOT(0));
    qk__lockorder_release(SNAP);
}

Test(lockorder, releasing_a_lock_not_held_aborts, .signal = SIGABRT)
{
    qk__lockorder_release(SLOT(4));
}

/* ---- the messages: each abort names both locks ---- */

typedef void (*scenario)(void);

/* Runs fn in a child with stderr captured; asserts it died of SIGABRT printing `want`. */
static void expect_abort_saying(scenario fn, const char *want)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    const pid_t me = getpid();
    const pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        qkt_child_bounds(me, 10);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0); /* not reached when the checker works */
    }
    close(fds[1]);
    char buf[512] = {0};
    size_t len = 0;
    ssize_t got;
    while (len < sizeof buf - 1 && (got = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)got;
    close(fds[0]);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "expected an abort for \"%s\"; status 0x%x, stderr: %s", want, status, buf);
    cr_assert(strstr(buf, want) != NULL, "the abort says \"%s\", expected \"%s\"", buf, want);
}

static void inv_slot_snapshot(void)
{
    qk__lockorder_acquire(SLOT(0));
    qk__lockorder_acquire(SNAP);
}

static void inv_slot2_slot1(void)
{
    qk__lockorder_acquire(SNAP);
    qk__lockorder_acquire(SLOT(2));
    qk__lockorder_acquire(SLOT(1));
}

static void inv_two_slots(void)
{
    qk__lockorder_acquire(SLOT(1));
    qk__lockorder_acquire(SLOT(2));
}

Test(lockorder, each_abort_names_both_locks)
{
    expect_abort_saying(inv_slot_snapshot, "taking the snapshot lock while holding slot lock 0");
    expect_abort_saying(inv_slot2_slot1, "taking slot lock 1 while holding slot lock 2");
    expect_abort_saying(inv_two_slots, "outside the snapshot path: slot lock 2 while holding "
                                       "slot lock 1");
}

/* ---- through the library's real locks ---- */

static qkt_clock fixed_clock = {QKT_T0_MS}; /* never moved */

static int events_seen;

static qk_tracker *tracker3(qk_event_fn fn)
{
    qk_service_def defs[3];
    memset(defs, 0, sizeof defs);
    static const char *const names[3] = {"tiingo", "finnhub", "sendgrid"};
    for (int i = 0; i < 3; i++) {
        defs[i].name = names[i];
        defs[i].windows[0] = (qk_window_def){QK_DAY, 10};
    }
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = 3;
    o.capacity = 8;
    o.clock = qkt_clock_read;
    o.clock_ctx = &fixed_clock;
    o.on_event = fn;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    return t;
}

/* Holds slot s the way the library's slot_lock does (checker first, then the mutex), as code
 * running under a slot lock would: a callback delivered before the unlock, say. */
static void hold_slot(qk_tracker *t, qk_service s)
{
    qk__lockorder_acquire(SLOT(s));
    pthread_mutex_lock(&t->slots[s].lock);
}

Test(lockorder, api_call_under_a_higher_slot_lock_aborts, .signal = SIGABRT)
{
    qk_tracker *t = tracker3(NULL);
    hold_slot(t, 1);
    qk_record(t, 0, 1, NULL); /* slot 0 after slot 1 */
}

Test(lockorder, api_call_under_another_slot_lock_aborts, .signal = SIGABRT)
{
    qk_tracker *t = tracker3(NULL);
    hold_slot(t, 0);
    qk_peek(t, 2, &(qk_usage){0}); /* a second slot lock, no snapshot lock */
}

Test(lockorder, api_call_under_its_own_slot_lock_aborts_instead_of_deadlocking, .signal = SIGABRT)
{
    qk_tracker *t = tracker3(NULL);
    hold_slot(t, 1);
    qk_record(t, 1, 1, NULL); /* would block forever on a default mutex */
}

Test(lockorder, snapshot_under_a_slot_lock_aborts, .signal = SIGABRT)
{
    qk_tracker *t = tracker3(NULL);
    hold_slot(t, 2);
    size_t count = 0;
    qk_usage out[8];
    qk_snapshot(t, out, 8, &count); /* snapshot lock after slot 2 */
}

Test(lockorder, service_add_under_a_slot_lock_aborts, .signal = SIGABRT)
{
    qk_tracker *t = tracker3(NULL);
    hold_slot(t, 0);
    qk_service_def d = {.name = "late"};
    d.windows[0] = (qk_window_def){QK_MINUTE, 5};
    qk_service_add(t, &d, NULL);
}

static void hold_then_record(void)
{
    qk_tracker *t = tracker3(NULL);
    hold_slot(t, 1);
    qk_record(t, 0, 1, NULL);
}

Test(lockorder, the_library_abort_names_both_locks)
{
    expect_abort_saying(hold_then_record, "taking slot lock 0 while holding slot lock 1");
}

/* ---- legal orders pass ---- */

Test(lockorder, the_legal_orders_pass)
{
    /* All-services pass: snapshot, then ascending slots (gaps allowed), released in reverse. */
    qk__lockorder_acquire(SNAP);
    for (int64_t s = 0; s < 100; s += 3)
        qk__lockorder_acquire(SLOT(s));
    for (int64_t s = 99; s >= 0; s -= 3)
        qk__lockorder_release(SLOT(s));
    qk__lockorder_release(SNAP);
    /* Single-service operations, one after another, in any index order. */
    qk__lockorder_acquire(SLOT(7));
    qk__lockorder_release(SLOT(7));
    qk__lockorder_acquire(SLOT(2));
    qk__lockorder_release(SLOT(2));
    /* service_add: the snapshot lock alone. */
    qk__lockorder_acquire(SNAP);
    qk__lockorder_release(SNAP);
    /* Deep: a snapshot of 100,000 services (the checker keeps runs of ranks, not a stack). */
    qk__lockorder_acquire(SNAP);
    for (int64_t s = 0; s < 100000; s++)
        qk__lockorder_acquire(SLOT(s));
    for (int64_t s = 100000; s-- > 0;)
        qk__lockorder_release(SLOT(s));
    qk__lockorder_release(SNAP);
}

/* Calls back into the tracker from the callback: every call takes its locks afresh, legal only
 * because the library delivers events with no lock held. */
static qk_tracker *cb_tracker;

static void call_back_in(const qk_event *ev, void *payload)
{
    (void)payload;
    events_seen++;
    qk_usage u, all[8];
    size_t count = 0;
    cr_assert_eq(qk_peek(cb_tracker, ev->service, &u), QK_OK);
    cr_assert_eq(qk_snapshot(cb_tracker, all, 8, &count), QK_OK);
    if (ev->to == QK_LEVEL_EXHAUSTED)
        cr_assert_eq(qk_refund(cb_tracker, ev->service, 1), QK_OK);
    if (ev->service == 1 && ev->to == QK_LEVEL_WARN)
        cr_assert_eq(qk_reset_all(cb_tracker), QK_OK);
}

Test(lockorder, every_operation_and_callbacks_that_call_back_in_pass)
{
    qk_tracker *t = tracker3(call_back_in);
    cb_tracker = t;
    qk_usage u, all[8];
    size_t count = 0;
    for (int round = 0; round < 3; round++)
        for (qk_service s = 0; s < 3; s++) {
            cr_assert_eq(qk_record(t, s, 4, &u), QK_OK);
            const int rc = qk_try_consume(t, s, 3, round == 2 ? QK_PRIORITY : 0, &u);
            cr_assert(rc == QK_OK || rc == QK_ELIMIT);
            cr_assert_eq(qk_refund(t, s, 1), QK_OK);
            cr_assert_eq(qk_peek(t, s, &u), QK_OK);
            cr_assert_eq(qk_set_used(t, s, 0, 9), QK_OK);
            cr_assert_eq(qk_reset(t, s), QK_OK);
        }
    cr_assert_eq(qk_snapshot(t, all, 8, &count), QK_OK);
    cr_assert_eq(qk_reset_all(t), QK_OK);
    qk_service_def d = {.name = "late"};
    d.windows[0] = (qk_window_def){QK_MINUTE, 5};
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 3, 5, NULL), QK_OK);
    cr_assert_gt(events_seen, 0, "the callbacks ran");
    qk_tracker_free(t);
}

/* Through the library: snapshot and reset_all of 5,000 services run in a checked build. The
 * first checker kept a stack of 4,096 held locks and aborted here. */
Test(lockorder, a_snapshot_of_5000_services_passes)
{
    qk_options o = QK_OPTIONS_INIT;
    o.capacity = 5000;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK);
    for (unsigned i = 0; i < 5000; i++) {
        qk_service_def d = {.name = NULL};
        char name[16];
        snprintf(name, sizeof name, "s%u", i);
        d.name = name;
        d.windows[0] = (qk_window_def){QK_DAY, 10};
        cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK);
    }
    static qk_usage out[5000];
    size_t count = 0;
    cr_assert_eq(qk_snapshot(t, out, 5000, &count), QK_OK);
    cr_assert_eq(count, 5000);
    cr_assert_eq(qk_reset_all(t), QK_OK);
    qk_tracker_free(t);
}
