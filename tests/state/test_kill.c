/* Owner death (issue 5, item 4): a child is paused inside a critical section by the test hook
 * (QK_TP_SLOT_UPDATED: the slot's update is written but not committed, its lock held) and
 * SIGKILLed there. Afterwards every acknowledged call is counted exactly once, the killed one
 * not at all, reset_all is all-or-nothing, and every lock works again. Each case runs three
 * ways:
 * - cold: nobody has the file open after the kill, so the next open repairs it (alive lock);
 * - live: a tracker the parent opened before the kill takes the dead owner's lock and gets
 *   EOWNERDEAD (with a thread already blocked on that lock, in two cases);
 * - warm: another process keeps the file open, so a fresh open is not cold and the repair
 *   happens on the first lock.
 * Linked against qk_state_hooked (the library built with -DQK_TEST_HOOKS). */
#include "state_test.h"
#include "test_hooks.h"

TestSuite(kill, .init = st_setup, .fini = st_teardown);

#define NSVC  5
#define MID   2 /* the slot the hook stops at: reset_all has updated 0..2, not 3..4 */
#define LIMIT 1000

static char kpath[PATH_MAX];
static qk_service_def kdefs[NSVC];
static const char *const knames[NSVC] = {"s0", "s1", "s2", "s3", "s4"};

static qk_options kopts(void)
{
    for (unsigned s = 0; s < NSVC; s++)
        kdefs[s] = qkt_svc_def(knames[s], QK_DAY, LIMIT, QK_MONTH, 10 * LIMIT);
    return st_opts(kpath, kdefs, NSVC, NSVC + 1, NULL);
}

/* What the victim records, and sees acknowledged, before the operation that is killed. */
static uint64_t acked(unsigned s)
{
    return 10u * (s + 1);
}

typedef enum { K_RECORD, K_CONSUME, K_RESET, K_RESET_ALL, K_SNAPSHOT } kop;

/* ---- the victim: a child that dies inside a critical section ---- */

static int hook_fd = -1;
static uint32_t hook_service;

/* Runs with the slot lock held (and, for reset_all and snapshot, the snapshot lock and every
 * slot lock): tells the parent, then waits for the SIGKILL. */
static void pause_in_critical_section(qk_test_point point, uint32_t service)
{
    if (point != QK_TP_SLOT_UPDATED || service != hook_service)
        return;
    const char c = 'p';
    if (write(hook_fd, &c, 1) != 1)
        _exit(20);
    for (;;)
        pause();
}

static int victim(void *arg)
{
    const kop op = *(const kop *)arg;
    const qk_options o = kopts();
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    for (unsigned s = 0; s < NSVC; s++)
        if (qk_record(t, s, acked(s), NULL) != QK_OK)
            return 3;
    hook_service = MID;
    qk__test_hook = pause_in_critical_section;
    qk_usage snap[NSVC];
    size_t n = 0;
    switch (op) {
    case K_RECORD:
        qk_record(t, MID, 100, NULL);
        break;
    case K_CONSUME:
        qk_try_consume(t, MID, 7, 0, NULL);
        break;
    case K_RESET:
        qk_reset(t, MID);
        break;
    case K_RESET_ALL:
        qk_reset_all(t);
        break;
    case K_SNAPSHOT:
        qk_snapshot(t, snap, NSVC, &n);
        break;
    }
    return 4; /* the hook never returns */
}

/* Starts the victim and returns once it is paused inside the critical section. */
static pid_t start_victim(kop *op)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    hook_fd = p[1];
    const pid_t pid = qkt_fork_run(victim, op, 15);
    close(p[1]);
    const bool reached = qkt_read_byte(p[0]);
    close(p[0]);
    if (!reached) {
        const int rc = qkt_wait_child(pid);
        cr_assert_fail("the victim never reached the test point (exit %d)", rc);
    }
    return pid;
}

static void kill_victim(pid_t pid)
{
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(qkt_wait_child(pid), 1000 + SIGKILL);
}

/* ---- what must hold afterwards ---- */

static void assert_totals(qk_tracker *t, uint64_t extra, const char *when)
{
    qk_usage snap[NSVC];
    size_t n = 0;
    cr_assert_eq(qk_snapshot(t, snap, NSVC, &n), QK_OK, "%s: snapshot: %s", when, qk_errmsg());
    cr_assert_eq(n, NSVC);
    for (unsigned s = 0; s < NSVC; s++) {
        const qk_usage u = peek(t, s);
        for (unsigned w = 0; w < 2; w++) {
            cr_assert_eq(u.windows[w].used, acked(s) + extra,
                         "%s: service %u window %u has %llu, expected %llu", when, s, w,
                         (unsigned long long)u.windows[w].used,
                         (unsigned long long)(acked(s) + extra));
            cr_assert_eq(snap[s].windows[w].used, u.windows[w].used, "%s: snapshot disagrees",
                         when);
        }
    }
}

static int record_one_each(void *arg)
{
    (void)arg;
    const qk_options o = kopts();
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    for (unsigned s = 0; s < NSVC; s++)
        if (qk_record(t, s, 1, NULL) != QK_OK)
            return 3;
    qk_tracker_free(t);
    return QKT_CHILD_OK;
}

/* After the kill, through tracker t: exact totals, then every lock (slot locks, the snapshot
 * lock, all of them at once) works for this process and for another one. */
static void assert_recovered(qk_tracker *t, kop op)
{
    assert_totals(t, 0, "after the kill");
    for (unsigned s = 0; s < NSVC; s++)
        cr_assert_eq(qk_record(t, s, 1, NULL), QK_OK, "%s", qk_errmsg());
    assert_child_ok(qkt_fork_run(record_one_each, NULL, 15), "a new process after the kill");
    assert_totals(t, 2, "after new records");
    if (op == K_CONSUME) {
        /* The killed consume's 7 calls are not held: exactly LIMIT - used more fit. */
        uint64_t granted = 0;
        while (qk_try_consume(t, MID, 1, 0, NULL) == QK_OK)
            granted++;
        cr_assert_eq(granted, LIMIT - (acked(MID) + 2));
        cr_assert_eq(used_of(t, MID, 0), LIMIT);
    }
    const qk_service_def extra = qkt_svc_def("extra", QK_DAY, 5, 0, 0);
    cr_assert_eq(qk_service_add(t, &extra, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_reset_all(t), QK_OK);
    for (unsigned s = 0; s < NSVC; s++)
        cr_assert_eq(used_of(t, s, 0), 0);
}

/* ---- the three ways ---- */

/* Nobody has the file open when it is reopened: the open itself repairs (fresh mutexes, open
 * journals rolled back). Catches a repair that only works through EOWNERDEAD. */
static void run_cold(kop op)
{
    st_path(kpath, "state.qk");
    const pid_t pid = start_victim(&op);
    kill_victim(pid);
    cr_assert(!st_file_in_use(kpath), "the dead victim still holds the file");
    const qk_options o = kopts();
    qk_tracker *t = st_open(&o);
    assert_recovered(t, op);
    qk_tracker_free(t);
}

/* A tracker that was open all along takes the dead owner's locks: EOWNERDEAD, journal rolled
 * back, pthread_mutex_consistent. Catches a missing or wrong EOWNERDEAD path. */
static void run_live(kop op)
{
    st_path(kpath, "state.qk");
    const qk_options o = kopts();
    qk_tracker *t = st_open(&o);
    const pid_t pid = start_victim(&op);
    kill_victim(pid);
    assert_recovered(t, op);
    qk_tracker_free(t);
}

/* Another process holds the file open, so a fresh open is not cold and must not reinitialise
 * the mutexes under it; the repair happens at the first lock. */
static int hold_open(void *arg)
{
    qkt_pbarrier *b = arg;
    const qk_options o = kopts();
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    const char c = 'r';
    if (write(hook_fd, &c, 1) != 1)
        return 3;
    qkt_pbarrier_wait(b);
    /* The holder's own tracker works after the repair done by another process. */
    for (unsigned s = 0; s < NSVC; s++)
        if (qk_record(t, s, 1, NULL) != QK_OK)
            return 4;
    qk_tracker_free(t);
    return QKT_CHILD_OK;
}

static void run_warm(kop op)
{
    st_path(kpath, "state.qk");
    const qk_options o = kopts();
    qk_tracker_free(st_open(&o)); /* create it */
    qkt_pbarrier b;
    qkt_pbarrier_init(&b);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    hook_fd = p[1];
    const pid_t holder = qkt_fork_run(hold_open, &b, 20);
    close(p[1]);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1, "the holder did not open the file");
    close(p[0]);
    close(b.fd[0]);

    const pid_t pid = start_victim(&op);
    kill_victim(pid);
    cr_assert(st_file_in_use(kpath), "the holder should have the file open");
    qk_tracker *t = st_open(&o);
    assert_totals(t, 0, "warm open after the kill");
    close(b.fd[1]); /* release the holder */
    assert_child_ok(holder, "holder");
    assert_totals(t, 1, "after the holder's records");
    qk_tracker_free(t);
}

Test(kill, record_cold, .timeout = 60)
{
    run_cold(K_RECORD);
}
Test(kill, record_live, .timeout = 60)
{
    run_live(K_RECORD);
}
Test(kill, record_warm, .timeout = 60)
{
    run_warm(K_RECORD);
}
Test(kill, consume_cold, .timeout = 60)
{
    run_cold(K_CONSUME);
}
Test(kill, consume_live, .timeout = 60)
{
    run_live(K_CONSUME);
}
Test(kill, reset_cold, .timeout = 60)
{
    run_cold(K_RESET);
}
Test(kill, reset_live, .timeout = 60)
{
    run_live(K_RESET);
}
/* reset_all killed with slots 0..2 zeroed and 3..4 not yet: every slot is rolled back. */
Test(kill, reset_all_cold, .timeout = 60)
{
    run_cold(K_RESET_ALL);
}
Test(kill, reset_all_live, .timeout = 60)
{
    run_live(K_RESET_ALL);
}
Test(kill, reset_all_warm, .timeout = 60)
{
    run_warm(K_RESET_ALL);
}
Test(kill, snapshot_cold, .timeout = 60)
{
    run_cold(K_SNAPSHOT);
}
Test(kill, snapshot_live, .timeout = 60)
{
    run_live(K_SNAPSHOT);
}

/* ---- a thread already blocked on the lock when its owner dies ---- */

typedef struct {
    qk_tracker *t;
    kop op;
    _Atomic pid_t tid;
    int rc;
    qk_usage snap[NSVC];
} waiter;

static void *wait_on_lock(void *arg)
{
    waiter *w = arg;
    atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
    size_t n = 0;
    w->rc =
        w->op == K_RECORD ? qk_record(w->t, MID, 1, NULL) : qk_snapshot(w->t, w->snap, NSVC, &n);
    return NULL;
}

/* The waiter is parked in futex(2) on the dead owner's lock; the kernel's robust-list cleanup
 * must wake it with EOWNERDEAD, and it must repair before applying its own operation. Catches a
 * waiter that sleeps forever, or that applies over the torn update. */
static void run_blocked_waiter(kop op)
{
    st_path(kpath, "state.qk");
    const qk_options o = kopts();
    qk_tracker *t = st_open(&o);
    const pid_t pid = start_victim(&op);
    waiter w = {.t = t, .op = op};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, wait_on_lock, &w), 0);
    while (atomic_load(&w.tid) == 0)
        sched_yield();
    cr_assert(qkt_wait_futex(getpid(), atomic_load(&w.tid)), "the waiter never blocked");
    kill_victim(pid);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(w.rc, QK_OK, "the waiter got %s", qk_strerror(w.rc));
    if (op == K_RECORD) {
        cr_assert_eq(used_of(t, MID, 0), acked(MID) + 1);
        cr_assert_eq(used_of(t, MID, 1), acked(MID) + 1);
    } else {
        for (unsigned s = 0; s < NSVC; s++)
            cr_assert_eq(w.snap[s].windows[0].used, acked(s), "the waiter's cut, service %u", s);
        assert_totals(t, 0, "after the blocked snapshot");
    }
    qk_tracker_free(t);
}

Test(kill, record_with_a_blocked_waiter, .timeout = 60)
{
    run_blocked_waiter(K_RECORD);
}

Test(kill, reset_all_with_a_blocked_snapshot, .timeout = 60)
{
    run_blocked_waiter(K_RESET_ALL);
}

/* ---- reconcile against a concurrent qk_service_add (found as a bug, fixed) ----
 *
 * qk_tracker_new on an existing file checks the room for its missing services first
 * (src/tracker.c:487), then locks every stored slot, then adds the missing ones
 * (src/tracker.c:521-527) with add_locked, which never re-checks the capacity. Another
 * process's qk_service_add is not excluded by the open lock, so it can take the last slot in
 * between. Interleaving forced here: a victim holds slot 0 (paused at the test point), so the
 * opener R blocks in reconcile after its room check; the parent then adds a service, filling
 * the file; the victim is killed; R goes on. Expected: R gets QK_EFULL and the file stays valid
 * with 2 services. Actual: R succeeds, n_services becomes 3 in a 2-slot file, slot 2 is written
 * over the names array and every later open fails with QK_ECORRUPT. */
static qk_service_def race_defs[2];

static int hold_slot_zero(void *arg)
{
    (void)arg;
    const qk_options o = st_opts(kpath, race_defs, 1, 2, NULL);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    hook_service = 0;
    qk__test_hook = pause_in_critical_section;
    qk_record(t, 0, 1, NULL);
    return 4;
}

static int reopen_with_a_new_service(void *arg)
{
    (void)arg;
    const qk_options o = st_opts(kpath, race_defs, 2, 2, NULL);
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    if (rc == QK_EFULL)
        return QKT_CHILD_OK;
    fprintf(stderr, "reopen during a concurrent add: %s (%s), %zu services\n", qk_strerror(rc),
            qk_errmsg(), rc == QK_OK ? qk_service_count(t) : 0);
    return rc == QK_OK ? 2 : 3;
}

Test(kill, reconcile_against_a_concurrent_service_add, .timeout = 60)
{
    st_path(kpath, "state.qk");
    race_defs[0] = qkt_svc_def("a", QK_DAY, 100, 0, 0);
    race_defs[1] = qkt_svc_def("c", QK_DAY, 100, 0, 0);
    const qk_options o = st_opts(kpath, race_defs, 1, 2, NULL);
    qk_tracker *t = st_open(&o); /* [a], room for 2 */

    int p[2];
    cr_assert_eq(pipe(p), 0);
    hook_fd = p[1];
    const pid_t holder = qkt_fork_run(hold_slot_zero, NULL, 15);
    close(p[1]);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1, "the holder never reached the test point");
    close(p[0]);

    const pid_t opener = qkt_fork_run(reopen_with_a_new_service, NULL, 15);
    cr_assert(qkt_wait_futex(opener, 0), "the opener never blocked on slot 0");
    const qk_service_def b = qkt_svc_def("b", QK_DAY, 100, 0, 0);
    cr_assert_eq(qk_service_add(t, &b, NULL), QK_OK, "%s", qk_errmsg());
    kill_victim(holder);
    const int opener_rc = qkt_wait_child(opener);

    const size_t n = qk_service_count(t);
    qk_tracker_free(t);
    cr_assert_leq(n, 2, "n_services is %zu in a file with 2 slots", n);
    qk_tracker *again = NULL;
    const qk_options plain = st_opts_existing(kpath);
    const int rc = qk_tracker_new(&again, &plain);
    cr_assert_eq(rc, QK_OK, "the file no longer opens: %s", qk_errmsg());
    cr_assert_eq(st_find(again, "a"), 0);
    cr_assert_eq(st_find(again, "b"), 1);
    qk_tracker_free(again);
    cr_assert_eq(opener_rc, QKT_CHILD_OK, "the racing opener should get QK_EFULL (child code %d)",
                 opener_rc);
}

/* ---- a creator killed at the worst instant of creation ----
 *
 * The header checksum covers the ready magic, so creation stores the checksum first and then
 * publishes "QKSTATE" with one 8-byte store (src/region.c, publish). A creator killed between
 * the two leaves "QKINIT" on disk, which the next opener rebuilds. (The first version stored
 * the magic first: killed between the stores, the file was refused for good as corrupt.)
 * Expected: the next open succeeds, rebuilding.
 *
 * Forced two ways. On every machine, by the test point between the two stores
 * (QK_TP_HEADER_CHECKSUMMED): the creator stops itself there. Where a one-time probe shows that
 * this machine fires hardware watchpoints, also by a watchpoint on the checksum in the
 * creator's mapping (found by stopping it at the return of its mmap of the file), which needs
 * no hook in the library. With the stores put back in the old order, the test point variant
 * fails on the open (checked: the file is refused as "header checksum mismatch"). */
static int go_fd = -1;

static void stop_at_checksum(qk_test_point point, uint32_t service)
{
    (void)service;
    if (point != QK_TP_HEADER_CHECKSUMMED)
        return;
    const char c = 'c';
    if (write(hook_fd, &c, 1) != 1)
        _exit(20);
    for (;;)
        pause();
}

static int create_when_told(void *arg)
{
    if (arg != NULL)
        qk__test_hook = stop_at_checksum;
    char c;
    if (read(go_fd, &c, 1) != 1)
        return 2;
    const qk_options o = kopts();
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 3;
    qk_tracker_free(t);
    return 4; /* it should have been killed */
}

/* The creator is stopped between the two stores: kill it there, then the next open must
 * rebuild the file, and the header it was killed with shows where it stopped. */
static void kill_creator_and_reopen(pid_t pid)
{
    qk_header h;
    const int fd = open(kpath, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    kill_victim(pid);

    const qk_options o = kopts();
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    cr_assert_eq(rc, QK_OK, "the file a killed creator left is refused for good: %s", qk_errmsg());
    cr_assert_eq(qk_service_count(t), NSVC);
    qk_tracker_free(t);

    /* Where it was killed: the checksum of the finished header on the shared pages, and the
     * magic still saying the file is being built. */
    cr_assert_eq(memcmp(h.magic.text, "QKINIT", 7), 0, "not stopped before the magic");
    memcpy(h.magic.text, "QKSTATE", 8);
    cr_assert_eq(h.checksum, st_header_checksum(&h), "not stopped after the checksum");
}

static pid_t start_creator(bool hooked, int *go_write)
{
    int go[2];
    cr_assert_eq(pipe(go), 0);
    go_fd = go[0];
    const pid_t pid = qkt_fork_run(create_when_told, hooked ? &go_fd : NULL, 30);
    close(go[0]);
    *go_write = go[1];
    return pid;
}

Test(kill, creator_killed_between_checksum_and_magic, .timeout = 60)
{
    st_path(kpath, "state.qk");
    int p[2];
    cr_assert_eq(pipe(p), 0);
    hook_fd = p[1];
    int go;
    const pid_t pid = start_creator(true, &go);
    close(p[1]);
    cr_assert_eq(write(go, "g", 1), 1);
    close(go);
    const bool reached = qkt_read_byte(p[0]);
    close(p[0]);
    if (!reached)
        cr_assert_fail("the creator never reached the test point (exit %d)", qkt_wait_child(pid));
    kill_creator_and_reopen(pid);
}

Test(kill, creator_killed_between_checksum_and_magic_by_watchpoint, .timeout = 60)
{
#if QKT_HAVE_WATCHPOINTS
    QKT_NEED_WATCHPOINTS("kill::creator_killed_between_checksum_and_magic (test point)");
    st_path(kpath, "state.qk");
    int go;
    const pid_t pid = start_creator(false, &go);
    cr_assert(qkt_trace(pid, true), "ptrace worked for the probe but not here");
    cr_assert_eq(write(go, "g", 1), 1);
    close(go);
    const uintptr_t base = qkt_run_to_shared_mmap(pid, qk__region_size(NSVC + 1), 20000);
    cr_assert_neq(base, 0, "the creator never mapped the file");
    qkt_group_stop(pid);
    qkt_watch_writes(pid, base + offsetof(qk_header, checksum));
    cr_assert(qkt_wait_watchpoint(pid, 20000), "the creator did not stop at the watchpoint");
    kill_creator_and_reopen(pid);
#else
    cr_skip_test("needs x86_64 debug registers; the same kill is forced by the test point in "
                 "kill::creator_killed_between_checksum_and_magic");
#endif
}

/* ---- a rolling window killed mid-slide (issue 22) ----
 * The killed consume first slides the window (closing buckets into its ring, src/ring.h) and
 * then counts. Recovery rolls back the windows and the ring together: put the bug back (skip
 * the ring's restore in qk__slot_recover) and the current bucket's 5 calls sit in the ring as
 * a closed bucket, so the next slide drops them 900 ms early. */

static qkt_clock rclk = {T0};

static qk_options ropts(void)
{
    static qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "r";
    d.windows[0] = (qk_window_def){QK_SECOND, 100, .flags = QK_WINDOW_ROLLING};
    return st_opts(kpath, &d, 1, 2, &rclk);
}

static int rolling_victim(void *arg)
{
    (void)arg;
    const qk_options o = ropts();
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        return 2;
    qkt_clock_set(&rclk, T0);
    if (qk_try_consume(t, 0, 10, 0, NULL) != QK_OK)
        return 3;
    qkt_clock_set(&rclk, T0 + 100);
    if (qk_try_consume(t, 0, 5, 0, NULL) != QK_OK) /* closes T0's bucket of 10 */
        return 3;
    qkt_clock_set(&rclk, T0 + 600);
    hook_service = 0;
    qk__test_hook = pause_in_critical_section;
    qk_try_consume(t, 0, 7, 0, NULL); /* slides 25 buckets, counts 7, and dies */
    return 4;
}

static pid_t start_rolling_victim(void)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    hook_fd = p[1];
    const pid_t pid = qkt_fork_run(rolling_victim, NULL, 15);
    close(p[1]);
    const bool reached = qkt_read_byte(p[0]);
    close(p[0]);
    if (!reached)
        cr_assert_fail("the rolling victim never reached the test point (exit %d)",
                       qkt_wait_child(pid));
    return pid;
}

/* The 10 calls of T0 leave at T0 + 1020 (their bucket's end plus 50 buckets), the 5 of T0 + 100
 * at T0 + 1120; the killed 7 never counted. */
static void assert_rolling_recovered(qk_tracker *t)
{
    qkt_clock_set(&rclk, T0 + 700);
    cr_assert_eq(used_of(t, 0, 0), 15, "after the kill, a slide later");
    qkt_clock_set(&rclk, T0 + 1019);
    cr_assert_eq(used_of(t, 0, 0), 15);
    qkt_clock_set(&rclk, T0 + 1020);
    cr_assert_eq(used_of(t, 0, 0), 5);
    qkt_clock_set(&rclk, T0 + 1120);
    cr_assert_eq(used_of(t, 0, 0), 0);
    cr_assert_eq(qk_try_consume(t, 0, 100, 0, NULL), QK_OK, "%s", qk_errmsg());
}

Test(kill, rolling_slide_cold, .timeout = 60)
{
    st_path(kpath, "rolling.qk");
    kill_victim(start_rolling_victim());
    qkt_clock_set(&rclk, T0 + 600);
    const qk_options o = ropts();
    qk_tracker *t = st_open(&o);
    assert_rolling_recovered(t);
    qk_tracker_free(t);
}

Test(kill, rolling_slide_live, .timeout = 60)
{
    st_path(kpath, "rolling.qk");
    const qk_options o = ropts();
    qk_tracker *t = st_open(&o);
    kill_victim(start_rolling_victim());
    assert_rolling_recovered(t);
    qk_tracker_free(t);
}
