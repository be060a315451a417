/* A damaged state file (issue 26, item 3): shrunk under a live tracker, created on a full
 * filesystem, or with a changed bit in a slot's count or bounds. Each is an error with its code
 * and a message, never a signal, never a rebuild that takes lost counts for a fresh start, and
 * never a changed count or bound read as the truth. */
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "state_test.h"
#include "window.h"

TestSuite(damage, .init = st_setup, .fini = st_teardown);

/* "a" (DAY 100, MINUTE 10) with 3 calls and "b" (MONTH 50) with 7, room for 4. */
static const qk_service_def *two_defs(void)
{
    static qk_service_def defs[2];
    defs[0] = qkt_svc_def("a", QK_DAY, 100, QK_MINUTE, 10);
    defs[1] = qkt_svc_def("b", QK_MONTH, 50, 0, 0);
    return defs;
}

static qk_tracker *open_live(const char *path)
{
    const qk_options o = st_opts(path, two_defs(), 2, 4, NULL);
    qk_tracker *t = st_open(&o);
    cr_assert_eq(qk_record(t, 0, 3, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 1, 7, NULL), QK_OK);
    return t;
}

static qk_tracker *st_open_existing(const char *path)
{
    const qk_options o = st_opts_existing(path);
    return st_open(&o);
}

static void expect_rc(int rc, int code, const char *what, const char *needle)
{
    cr_assert_eq(rc, code, "%s: expected %s, got %s (%s)", what, qk_strerror(code), qk_strerror(rc),
                 qk_errmsg());
    if (needle != NULL)
        cr_assert_not_null(strstr(qk_errmsg(), needle), "%s: message '%s' lacks '%s'", what,
                           qk_errmsg(), needle);
}

static off_t size_of(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    return sb.st_size;
}

/* Truncates the file under a live tracker: its next peek and snapshot fail (no SIGBUS, which
 * would end this test's process), and a second opener, read-write or read-only, gets an error
 * and leaves the file as it found it instead of rebuilding it. */
static void shrink_under_live_tracker(off_t to, int second_code, const char *second_needle)
{
    char path[PATH_MAX];
    st_path(path, "state.qk");
    qk_tracker *t = open_live(path);
    cr_assert_eq(truncate(path, to), 0);

    qk_usage u;
    expect_rc(qk_peek(t, 0, &u), QK_ECORRUPT, "qk_peek", "shrank");
    cr_assert_eq(qk_service_count(t), 0, "the services of a file that shrank");
    qk_service found = 9;
    expect_rc(qk_service_find(t, "b", &found), QK_ECORRUPT, "qk_service_find", "shrank");
    cr_assert_eq(found, 9);
    qk_usage all[4];
    size_t n = 0;
    expect_rc(qk_snapshot(t, all, 4, &n), QK_ECORRUPT, "qk_snapshot", "shrank");

    static char sentinel;
    qk_tracker *t2 = (qk_tracker *)&sentinel;
    const qk_options o = st_opts(path, two_defs(), 2, 4, NULL);
    expect_rc(qk_tracker_new(&t2, &o), second_code, "second read-write open", second_needle);
    cr_assert_eq(t2, (qk_tracker *)&sentinel);
    cr_assert_eq(size_of(path), to, "the second opener rebuilt the truncated file");

    qk_options ro = st_opts_existing(path);
    ro.flags = QK_OPEN_READONLY;
    const int rc = qk_tracker_new(&t2, &ro);
    cr_assert(rc == QK_ECORRUPT || rc == QK_EIO, "read-only open: %s (%s)", qk_strerror(rc),
              qk_errmsg());
    cr_assert_eq(size_of(path), to);
    qk_tracker_free(t);
}

Test(damage, truncated_to_zero_under_a_live_tracker, .timeout = 30)
{
    shrink_under_live_tracker(0, QK_ECORRUPT, "another process has it open");
}

Test(damage, truncated_to_1000_bytes_under_a_live_tracker, .timeout = 30)
{
    cr_assert_gt(qk__region_size(4), 1000);
    shrink_under_live_tracker(1000, QK_ECORRUPT, "truncated");
}

/* ---- a full filesystem ---- */

enum { CHILD_TMPFS_OK = 10, CHILD_RLIMIT_OK = 11, CHILD_WRONG_RC = 20 };

/* In a child: a tmpfs of 64 KiB in a private mount namespace (root here), or, where mounting is
 * not allowed, a file-size limit of 64 KiB (posix_fallocate then fails with EFBIG). A state file
 * of 1000 slots (about 700 KiB) cannot fit: QK_EIO, not SIGBUS. Only the tmpfs way tells the fix
 * (posix_fallocate) from the old sparse ftruncate, which a file-size limit refuses as well: the
 * test prints which way ran. */
static int full_fs_child(const char *dir)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int way = CHILD_TMPFS_OK;
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
        way = CHILD_RLIMIT_OK;
        signal(SIGXFSZ, SIG_IGN);
        const struct rlimit lim = {64 * 1024, 64 * 1024};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
            return 30;
    }
    char path[PATH_MAX];
    qkt_path(path, dir, "state.qk");
    const qk_service_def d = qkt_svc_def("a", QK_DAY, 100, 0, 0);
    const qk_options o = st_opts(path, &d, 1, 1000, NULL);
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    if (rc != QK_EIO || strstr(qk_errmsg(), "cannot reserve") == NULL) {
        fprintf(stderr, "full filesystem: %s (%s)\n", qk_strerror(rc), qk_errmsg());
        return CHILD_WRONG_RC;
    }
    return way;
}

Test(damage, full_filesystem_is_eio, .timeout = 30)
{
    char dir[PATH_MAX];
    st_path(dir, "small");
    cr_assert_eq(mkdir(dir, 0700), 0);
    const pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(full_fs_child(dir));
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(!WIFSIGNALED(status), "the creator died of signal %d", WTERMSIG(status));
    cr_assert(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    cr_assert(code == CHILD_TMPFS_OK || code == CHILD_RLIMIT_OK, "child exit code %d", code);
    /* Said plainly, so a run shows which way it was proved. */
    fprintf(stderr, "damage::full_filesystem_is_eio: proved on %s\n",
            code == CHILD_TMPFS_OK ? "a 64 KiB tmpfs (mount namespace)"
                                   : "RLIMIT_FSIZE of 64 KiB (mounting not permitted)");
}

/* ---- changed bits in a slot's count and bounds ---- */

typedef enum { WORD_USED, WORD_START, WORD_END } word_kind;

static uint64_t *word_of(qk_slot *sl, unsigned w, word_kind k)
{
    qk_window *win = &sl->w[w];
    return k == WORD_USED    ? &win->used
           : k == WORD_START ? (uint64_t *)&win->start_ms
                             : (uint64_t *)&win->end_ms;
}

/* Whether the flip keeps the window's invariants (a count within its level): only the slot's
 * seal can see it (src/slot.h). */
static bool stays_within_level(const qk_window *w, word_kind k, uint64_t flipped)
{
    return k == WORD_USED && qk__window_level(w, flipped) == (qk_level)w->level;
}

static void expect_open_refused(const char *path, int readonly, const char *what, unsigned bit)
{
    qk_options o = readonly ? st_opts_existing(path) : st_opts(path, two_defs(), 2, 4, NULL);
    if (readonly)
        o.flags = QK_OPEN_READONLY;
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, &o);
    cr_assert_eq(rc, QK_ECORRUPT, "%s open, %s bit %u: %s (%s)", readonly ? "read-only" : "rw",
                 what, bit, qk_strerror(rc), qk_errmsg());
    cr_assert_not_null(strstr(qk_errmsg(), "window"), "%s", qk_errmsg());
}

static const char *const WORD_NAMES[] = {"used", "start", "end"};

/* Every bit of every window's used, start and end word of both services: the cold opener, a
 * warm opener (another tracker has the file open), a read-only opener and a live tracker's peek
 * and snapshot report it; with the bit restored, the file opens and counts as before. */
Test(damage, every_bit_flip_in_counts_and_bounds, .timeout = 120)
{
    char path[PATH_MAX];
    st_path(path, "state.qk");
    qk_tracker *live = open_live(path);
    qk_tracker_free(live);
    unsigned checked = 0, within_level = 0;
    static const unsigned n_windows[2] = {2, 1};
    for (unsigned s = 0; s < 2; s++)
        for (unsigned w = 0; w < n_windows[s]; w++)
            for (int k = WORD_USED; k <= WORD_END; k++)
                for (unsigned bit = 0; bit < 64; bit++) {
                    st_image im = st_image_map(path);
                    uint64_t *word = word_of(&im.slots[s], w, (word_kind)k);
                    const uint64_t flipped = *word ^ (UINT64_C(1) << bit);
                    within_level += stays_within_level(&im.slots[s].w[w], (word_kind)k, flipped);
                    *word = flipped;
                    st_image_unmap(&im);
                    char what[64];
                    snprintf(what, sizeof what, "service %u window %u %s", s, w, WORD_NAMES[k]);

                    expect_open_refused(path, 0, what, bit); /* cold */
                    expect_open_refused(path, 1, what, bit); /* read-only, cold */

                    /* Warm, and live: restore, open, flip under the open tracker. */
                    im = st_image_map(path);
                    word = word_of(&im.slots[s], w, (word_kind)k);
                    *word ^= UINT64_C(1) << bit;
                    live = st_open_existing(path);
                    *word ^= UINT64_C(1) << bit;
                    expect_open_refused(path, 0, what, bit); /* warm */
                    qk_usage u;
                    expect_rc(qk_peek(live, s, &u), QK_ECORRUPT, what, "window");
                    char svc[32];
                    snprintf(svc, sizeof svc, "service '%s'", s == 0 ? "a" : "b");
                    cr_assert_not_null(strstr(qk_errmsg(), svc), "%s", qk_errmsg());
                    qk_usage all[4];
                    size_t n = 0;
                    expect_rc(qk_snapshot(live, all, 4, &n), QK_ECORRUPT, what, "window");
                    /* And the calls that count: refused, not sealed again over the flip. */
                    expect_rc(qk_record(live, s, 1, NULL), QK_ECORRUPT, what, "window");
                    expect_rc(qk_try_consume(live, s, 1, 0, NULL), QK_ECORRUPT, what, "window");
                    expect_rc(qk_refund(live, s, 1), QK_ECORRUPT, what, "window");
                    expect_rc(qk_reset(live, s), QK_ECORRUPT, what, "window");
                    qk_tracker_free(live);
                    *word ^= UINT64_C(1) << bit; /* restored */
                    st_image_unmap(&im);
                    checked++;
                }
    qk_tracker *t = st_open_existing(path);
    cr_assert_eq(used_of(t, 0, 0), 3);
    cr_assert_eq(used_of(t, 1, 0), 7);
    qk_tracker_free(t);
    /* Every flip: 3 windows x 3 words x 64 bits, those of a count that stay within its level
     * (caught by the seal alone) included. */
    cr_assert_eq(checked, 3 * 3 * 64);
    cr_assert_gt(within_level, 0, "no flip stayed within its level: the seal was not tested");
    fprintf(stderr,
            "damage::every_bit_flip: %u flips reported, %u of them counts within their level "
            "(the seal's)\n",
            checked, within_level);
}

/* ---- every call after a truncation under a live tracker ---- */

typedef enum {
    CALL_RECORD,
    CALL_CONSUME,
    CALL_REFUND,
    CALL_SET_USED,
    CALL_RESET,
    CALL_SERVICE_ADD,
    CALL_RESET_ALL,
    CALL_FIND,
    N_CALLS
} mutating_call;

static const char *const CALL_NAMES[N_CALLS] = {"qk_record",    "qk_try_consume", "qk_refund",
                                                "qk_set_used",  "qk_reset",       "qk_service_add",
                                                "qk_reset_all", "qk_service_find"};

static int make_call(qk_tracker *t, mutating_call c, qk_service s)
{
    qk_service found = 0;
    const qk_service_def extra = qkt_svc_def("c", QK_HOUR, 5, 0, 0);
    switch (c) {
    case CALL_RECORD:
        return qk_record(t, s, 1, NULL);
    case CALL_CONSUME:
        return qk_try_consume(t, s, 1, 0, NULL);
    case CALL_REFUND:
        return qk_refund(t, s, 1);
    case CALL_SET_USED:
        return qk_set_used(t, s, 0, 2);
    case CALL_RESET:
        return qk_reset(t, s);
    case CALL_SERVICE_ADD:
        return qk_service_add(t, &extra, NULL);
    case CALL_RESET_ALL:
        return qk_reset_all(t);
    case CALL_FIND:
        return qk_service_find(t, "b", &found);
    case N_CALLS:
        break;
    }
    return -1;
}

/* Truncated to 0, every page of the mapping is gone: the first access of every call faults.
 * Before the SIGBUS guard (src/fault.c) each of these calls killed the process; now each fails
 * with QK_ECORRUPT, as does every call after it, and the tracker still frees. */
Test(damage, every_call_after_a_truncation_to_zero, .timeout = 60)
{
    for (int c = 0; c < N_CALLS; c++) {
        char path[PATH_MAX];
        st_path(path, "state.qk");
        unlink(path);
        qk_tracker *t = open_live(path);
        cr_assert_eq(truncate(path, 0), 0);
        expect_rc(make_call(t, (mutating_call)c, 1), QK_ECORRUPT, CALL_NAMES[c], "shrank");
        for (int then = 0; then < N_CALLS; then++)
            expect_rc(make_call(t, (mutating_call)then, 0), QK_ECORRUPT, CALL_NAMES[then],
                      "shrank");
        qk_usage u;
        expect_rc(qk_peek(t, 0, &u), QK_ECORRUPT, "qk_peek", "shrank");
        qk_tracker_free(t);
    }
}

/* Truncated to 1000 bytes, the first page stays (its tail reads zeros): a call on service 0,
 * whose slot lies in it, raises no fault. The size is looked at every QK__SIZE_CHECK_MS (100)
 * of the tracker's clock, so once the clock moves 100 ms every call says so. */
Test(damage, a_truncation_that_leaves_the_page_is_seen_within_100_ms, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "state.qk");
    qkt_clock now = {T0};
    const qk_options o = st_opts(path, two_defs(), 2, 4, &now);
    qk_tracker *t = st_open(&o);
    cr_assert_eq(qk_record(t, 0, 3, NULL), QK_OK);
    cr_assert_lt(st_slots_offset() + sizeof(qk_slot), 1000, "slot 0 must lie in the first 1000 B");
    cr_assert_eq(truncate(path, 1000), 0);
    qkt_clock_advance(&now, 99);
    int rc = qk_record(t, 0, 1, NULL);
    cr_assert(rc == QK_OK || rc == QK_ECORRUPT, "%s", qk_strerror(rc));
    qkt_clock_advance(&now, 1);
    for (int c = CALL_RECORD; c <= CALL_RESET; c++)
        expect_rc(make_call(t, (mutating_call)c, 0), QK_ECORRUPT, CALL_NAMES[c], "shrank");
    qk_tracker_free(t);
}

/* A count changed within its level under a live tracker (the one change the invariants cannot
 * see) is refused by every counting call, and counted again once restored. */
Test(damage, a_count_changed_within_its_level_is_refused_by_every_call, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "state.qk");
    qk_tracker *t = open_live(path); /* a: DAY 100, MINUTE 10, 3 used */
    st_image im = st_image_map(path);
    qk_window *w = &im.slots[0].w[0];
    cr_assert_eq(w->used, 3);
    w->used = 4; /* DAY 100: still OK */
    cr_assert(stays_within_level(&im.slots[0].w[0], WORD_USED, 4));
    for (int c = CALL_RECORD; c <= CALL_RESET; c++)
        expect_rc(make_call(t, (mutating_call)c, 0), QK_ECORRUPT, CALL_NAMES[c], "seal");
    qk_usage u;
    expect_rc(qk_peek(t, 0, &u), QK_ECORRUPT, "qk_peek", "seal");
    w->used = 3;
    st_image_unmap(&im);
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(used_of(t, 0, 0), 4);
    qk_tracker_free(t);
}

/* ---- the SIGBUS guard leaves every other fault to the process ---- */

enum { FOREIGN_HANDLER_RAN = 42 };

static void program_handler(int sig)
{
    (void)sig;
    _exit(FOREIGN_HANDLER_RAN);
}

/* In a child: a tracker on a state file (the guard installed), then a fault in a mapping of the
 * child's own: a truncated scratch file. */
static void foreign_fault_child(const char *dir, int with_handler)
{
    qkt_child_bounds(getppid(), 20);
    /* The program's disposition, set before the library's first state file installs the guard
     * (each test runs in a fresh process, so this child's library has not installed it yet). */
    signal(SIGBUS, with_handler ? program_handler : SIG_DFL);
    char path[PATH_MAX], scratch[PATH_MAX];
    qkt_path(path, dir, with_handler ? "h.qk" : "d.qk");
    qkt_path(scratch, dir, with_handler ? "h.bin" : "d.bin");
    const qk_options o = st_opts(path, two_defs(), 2, 4, NULL);
    qk_tracker *t = NULL;
    if (qk_tracker_new(&t, &o) != QK_OK)
        _exit(30);
    const int fd = open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 8192) != 0)
        _exit(31);
    volatile char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED || ftruncate(fd, 0) != 0)
        _exit(32);
    m[4096] = 1; /* SIGBUS, not the library's */
    _exit(33);
}

static int foreign_fault_status(int with_handler)
{
    const pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        foreign_fault_child(st_dir, with_handler);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

Test(damage, a_foreign_sigbus_still_kills_by_default, .timeout = 30)
{
    const int status = foreign_fault_status(0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
              "the child should die of SIGBUS: %s %d", WIFSIGNALED(status) ? "signal" : "exit",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

Test(damage, a_foreign_sigbus_reaches_the_programs_handler, .timeout = 30)
{
    const int status = foreign_fault_status(1);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == FOREIGN_HANDLER_RAN,
              "the program's handler should run: %s %d", WIFSIGNALED(status) ? "signal" : "exit",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* A rolling window's buckets (src/ring.h) carry their own seal: a changed bucket is refused by a
 * cold open, by a careful peek and by the next slide of a live tracker, never counted. Put the
 * bug back (ring_sound true, rings_ok skipped) and the changed bucket lets calls through early. */
static qk_service_def rolling_def(void)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "r";
    d.windows[0] = (qk_window_def){QK_SECOND, 10, .flags = QK_WINDOW_ROLLING};
    return d;
}

/* 6 calls in one bucket, closed by a slide 100 ms later. */
static qk_tracker *open_rolling(const char *path, qkt_clock *clk)
{
    const qk_service_def d = rolling_def();
    const qk_options o = st_opts(path, &d, 1, 2, clk);
    qk_tracker *t = st_open(&o);
    cr_assert_eq(qk_try_consume(t, 0, 6, 0, NULL), QK_OK, "%s", qk_errmsg());
    qkt_clock_advance(clk, 100);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    return t;
}

/* Lowers the one closed bucket that holds 6 calls to 1, in the file. */
static void lower_bucket(const char *path)
{
    st_image im = st_image_map(path);
    qk_ring_set *rings = qk__region_image_rings(im.base);
    cr_assert_not_null(rings);
    int found = 0;
    for (unsigned k = 0; k < QK_RING_BUCKETS; k++)
        if (rings[0].live.bucket[0][k] == 6) {
            rings[0].live.bucket[0][k] = 1;
            found = 1;
        }
    cr_assert(found, "the closed bucket of 6");
    st_image_unmap(&im);
}

Test(damage, a_changed_rolling_bucket_is_refused, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "rolling.qk");
    qkt_clock clk = {T0};
    qk_tracker *t = open_rolling(path, &clk);
    qk_tracker_free(t);
    lower_bucket(path);
    qk_tracker *bad = NULL;
    const qk_options o = st_opts_existing(path);
    expect_rc(qk_tracker_new(&bad, &o), QK_ECORRUPT, "cold open", "buckets fail their seal");

    /* Under a live tracker: the careful peek, then the next slide. */
    st_path(path, "rolling2.qk");
    qkt_clock_set(&clk, T0);
    t = open_rolling(path, &clk);
    lower_bucket(path);
    qk_usage u;
    expect_rc(qk_peek(t, 0, &u), QK_ECORRUPT, "peek", "buckets fail their seal");
    qkt_clock_advance(&clk, 40); /* the current bucket closes */
    expect_rc(qk_try_consume(t, 0, 1, 0, &u), QK_ECORRUPT, "consume", "buckets fail their seal");
    qk_tracker_free(t);
}

/* A zone in the file's zone table (src/zone_table.h) is checked whole (its checksum) before any
 * window's local midnight is computed from it: a changed transition is refused, not used. */
Test(damage, a_changed_zone_is_refused, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "zoned.qk");
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "z";
    d.windows[0] = (qk_window_def){QK_DAY, 100, .tz = "America/Los_Angeles"};
    const qk_options o = st_opts(path, &d, 1, 2, NULL);
    qk_tracker *t = st_open(&o);
    cr_assert_eq(qk_record(t, 0, 3, NULL), QK_OK);
    qk_tracker_free(t);
    st_image im = st_image_map(path);
    qk_zone_table *zt = qk__region_image_zones(im.base);
    cr_assert_not_null(zt);
    cr_assert_eq(atomic_load(&zt->n_zones), 1);
    cr_assert_str_eq(zt->zone[0].name, "America/Los_Angeles");
    zt->zone[0].off[zt->zone[0].n_trans - 1] += 3600; /* an hour more, at its last transition */
    st_image_unmap(&im);
    qk_tracker *bad = NULL;
    const qk_options again = st_opts_existing(path);
    expect_rc(qk_tracker_new(&bad, &again), QK_ECORRUPT, "cold open", "zone 0 of the zone table");
}

/* A roll that a damaged zone refuses changes nothing (src/slot.c, qk__slot_roll_ended): the
 * zones of every ended window are checked before a rolling window of the same slot slides. It
 * used to slide window 0 (its ring journaled, its count committed at 0) and then refuse window
 * 1's zone, leaving the ring changed and unsealed: refused by every later call for good. */
Test(damage, a_damaged_zone_refuses_a_roll_before_a_rolling_window_slides, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "rolling_zoned.qk");
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "rz";
    d.windows[0] = (qk_window_def){QK_SECOND, 10, .flags = QK_WINDOW_ROLLING};
    d.windows[1] = (qk_window_def){QK_DAY, 100, .tz = "America/Los_Angeles"};
    qkt_clock clk = {T0};
    const qk_options o = st_opts(path, &d, 1, 2, &clk);
    qk_tracker *t = st_open(&o);
    cr_assert_eq(qk_try_consume(t, 0, 6, 0, NULL), QK_OK, "%s", qk_errmsg());
    qkt_clock_advance(&clk, 100); /* closes the bucket of 6 into the ring */
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());

    st_image im = st_image_map(path);
    qk_zone_table *zt = qk__region_image_zones(im.base);
    qk_ring_set *rings = qk__region_image_rings(im.base);
    cr_assert(zt != NULL && rings != NULL);
    cr_assert_eq(atomic_load(&zt->n_zones), 1);
    zt->zone[0].off[zt->zone[0].n_trans - 1] += 3600; /* damaged: its checksum fails */
    qk_ring_set ring_before;
    qk_window w_before[QK_MAX_WINDOWS];
    memcpy(&ring_before, &rings[0], sizeof ring_before);
    memcpy(w_before, im.slots[0].w, sizeof w_before);
    cr_assert_eq(rings[0].seal, qk__ring_seal_of(&rings[0].live), "sealed before");
    int holds_six = 0;
    for (unsigned k = 0; k < QK_RING_BUCKETS; k++)
        holds_six |= rings[0].live.bucket[0][k] == 6;
    cr_assert(holds_six, "the closed bucket of 6 is in the ring");

    /* A day later both windows have ended: the rolling one would slide, the zoned one needs its
     * zone, which is damaged. */
    qkt_clock_advance(&clk, 2 * QKT_DAY);
    expect_rc(qk_record(t, 0, 1, NULL), QK_ECORRUPT, "record", "zone is damaged");
    cr_assert_eq(memcmp(&rings[0], &ring_before, sizeof ring_before), 0,
                 "the ring is exactly as it was");
    cr_assert_eq(rings[0].seal, qk__ring_seal_of(&rings[0].live), "and still sealed");
    cr_assert_eq(memcmp(im.slots[0].w, w_before, sizeof w_before), 0,
                 "the windows are as they were: window 0 did not slide");
    cr_assert_eq(im.slots[0].journal & 1u, 0, "the journal is closed");
    /* Refused again, the same way: nothing was left half-done. */
    expect_rc(qk_try_consume(t, 0, 1, 0, NULL), QK_ECORRUPT, "consume", "zone is damaged");
    cr_assert_eq(memcmp(&rings[0], &ring_before, sizeof ring_before), 0);
    st_image_unmap(&im);
    qk_tracker_free(t);
}

/* A redefinition carries a rolling window's buckets to its new definition and seals them again
 * (src/slot.c, qk__slot_configure), so it checks the ring's seal first, in the hold that changes
 * it: a damaged ring is refused with QK_ECORRUPT, never sealed again as good. The open checks
 * every ring too, but in another hold; the clock below damages a bucket in between (the first
 * clock read of an open is reconcile's, after the check), as a write from outside could. */
static struct {
    const char *path;
    int damaged;
    qk_ring_set ring;
    qk_window w[QK_MAX_WINDOWS];
} between;

static int64_t damaging_clock(void *ctx)
{
    (void)ctx;
    if (!between.damaged) {
        between.damaged = 1;
        lower_bucket(between.path);
        st_image im = st_image_map(between.path);
        memcpy(&between.ring, qk__region_image_rings(im.base), sizeof between.ring);
        memcpy(between.w, im.slots[0].w, sizeof between.w);
        st_image_unmap(&im);
    }
    return T0 + 120; /* the bucket of 6 is still in the window */
}

Test(damage, a_redefinition_refuses_a_damaged_ring, .timeout = 30)
{
    /* Damaged before the open: the open's own check refuses it. */
    char path[PATH_MAX];
    st_path(path, "redefine.qk");
    qkt_clock clk = {T0};
    qk_tracker_free(open_rolling(path, &clk));
    lower_bucket(path);
    qk_service_def d = rolling_def();
    d.windows[0].limit = 20; /* same shape, new limit: the buckets are carried */
    const qk_options o = st_opts(path, &d, 1, 2, &clk);
    qk_tracker *bad = NULL;
    expect_rc(qk_tracker_new(&bad, &o), QK_ECORRUPT, "cold open", "buckets fail their seal");

    /* Damaged between the check and the redefinition, cold and warm. */
    for (int warm = 0; warm <= 1; warm++) {
        char p2[PATH_MAX];
        st_path(p2, warm ? "redefine_warm.qk" : "redefine_cold.qk");
        qkt_clock_set(&clk, T0);
        qk_tracker *keep = open_rolling(p2, &clk);
        if (!warm) {
            qk_tracker_free(keep);
            keep = NULL;
        }
        between.path = p2;
        between.damaged = 0;
        qk_options redefine = st_opts(p2, &d, 1, 2, NULL);
        redefine.clock = damaging_clock;
        redefine.clock_ctx = NULL;
        bad = NULL;
        expect_rc(qk_tracker_new(&bad, &redefine), QK_ECORRUPT, warm ? "warm open" : "cold open",
                  "it was not redefined");
        cr_assert(between.damaged, "the clock ran between the check and the redefinition");
        st_image im = st_image_map(p2);
        qk_ring_set *rings = qk__region_image_rings(im.base);
        cr_assert_eq(memcmp(rings, &between.ring, sizeof between.ring), 0,
                     "the ring is as the damage left it");
        cr_assert_neq(rings[0].seal, qk__ring_seal_of(&rings[0].live), "and not sealed again");
        cr_assert_eq(memcmp(im.slots[0].w, between.w, sizeof between.w), 0,
                     "the windows keep their old definition (limit %llu)",
                     (unsigned long long)im.slots[0].w[0].limit);
        cr_assert_eq(im.slots[0].w[0].limit, 10);
        st_image_unmap(&im);
        qk_tracker_free(keep);
    }
}
