/* Allocation failure: every allocation of qk_tracker_new and qk_service_add, failed in turn,
 * gives QK_ENOMEM with *out untouched, nothing half-built and nothing leaked; the event buffer of
 * qk_snapshot and qk_reset_all (allocated only when on_event is set) failing gives QK_ENOMEM and
 * changes nothing.
 *
 * The library's malloc, calloc, aligned_alloc, realloc and free are interposed at link time
 * (-Wl,--wrap=..., which reaches the static library's objects and this file, not Criterion's
 * shared library). The wrappers act only while armed, around the call under test: they count
 * the attempts, fail the chosen one (errno ENOMEM), and track the blocks handed out, so "live"
 * is the number of blocks allocated in the armed window and not yet freed. The real functions
 * run otherwise, so ASan and valgrind still see every block. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "qkt_criterion.h"
#include "quotakeeper.h"
#include "tmpdir.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_aligned_alloc(size_t align, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

enum { MAX_TRACKED = 256 };

static int armed;
static long attempts;     /* allocation attempts while armed */
static long fail_at = -1; /* the attempt to fail; -1: none; */
static int fail_all;      /* or fail every attempt */
static void *tracked[MAX_TRACKED];

static long live(void)
{
    long n = 0;
    for (int i = 0; i < MAX_TRACKED; i++)
        n += tracked[i] != NULL;
    return n;
}

static void track(void *p)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == NULL) {
            tracked[i] = p;
            return;
        }
    cr_assert_fail("more than %d blocks tracked", MAX_TRACKED);
}

static void untrack(void *p)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == p)
            tracked[i] = NULL;
}

/* A block the real allocator returned, tracked unless it is NULL. */
static void *tracked_new(void *p)
{
    if (p != NULL)
        track(p);
    return p;
}

/* Whether this attempt must fail. */
static int failing(void)
{
    const long this = attempts++;
    if (fail_all || this == fail_at) {
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    if (!armed)
        return __real_malloc(n);
    return failing() ? NULL : tracked_new(__real_malloc(n));
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (!armed)
        return __real_calloc(n, size);
    return failing() ? NULL : tracked_new(__real_calloc(n, size));
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    if (!armed)
        return __real_aligned_alloc(align, n);
    return failing() ? NULL : tracked_new(__real_aligned_alloc(align, n));
}

void *__wrap_realloc(void *old, size_t n)
{
    if (!armed)
        return __real_realloc(old, n);
    if (failing())
        return NULL; /* the old block stays valid and tracked */
    void *p = __real_realloc(old, n);
    if (p != NULL) {
        untrack(old);
        track(p);
    }
    return p;
}

void __wrap_free(void *p)
{
    if (p != NULL)
        untrack(p);
    __real_free(p);
}

static void arm(long fail)
{
    attempts = 0;
    fail_at = fail;
    fail_all = 0;
    armed = 1;
}

static void disarm(void)
{
    armed = 0;
}

/* ---- fixtures ---- */

static qkt_clock clk = {QKT_T0_MS};

static int events;

static void count_event(const qk_event *ev, void *payload)
{
    (void)ev;
    (void)payload;
    events++;
}

static qk_service_def defs[3];

static qk_options options(qk_event_fn fn, size_t capacity)
{
    static const char *const names[3] = {"tiingo", "finnhub", "sendgrid"};
    static const qk_window_def w[3] = {{QK_MONTH, 500}, {QK_MINUTE, 60}, {QK_DAY, 100}};
    memset(defs, 0, sizeof defs);
    for (int i = 0; i < 3; i++) {
        defs[i].name = names[i];
        defs[i].windows[0] = w[i];
        defs[i].windows[1] = (qk_window_def){QK_FOREVER, 10000};
    }
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = 3;
    o.capacity = capacity;
    o.clock = qkt_clock_read;
    o.clock_ctx = &clk;
    o.on_event = fn;
    return o;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- qk_tracker_new ---- */

/* qk_tracker_new with allocation k of n failing: QK_ENOMEM with a message, *out untouched, no
 * block and no descriptor (of the fds open before) left behind. */
static void open_failing_allocation(const qk_options *o, long k, long n, int fds)
{
    qk_tracker *const sentinel = (qk_tracker *)o;
    qk_tracker *t = sentinel;
    arm(k);
    const int rc = qk_tracker_new(&t, o);
    disarm();
    cr_assert_eq(rc, QK_ENOMEM, "allocation %ld of %ld failed: rc %d (%s)", k + 1, n, rc,
                 qk_strerror(rc));
    cr_assert_eq(t, sentinel, "allocation %ld failed: *out was changed", k + 1);
    cr_assert_eq(live(), 0, "allocation %ld failed: %ld blocks leaked", k + 1, live());
    cr_assert_eq(open_fds(), fds, "allocation %ld failed: a descriptor leaked", k + 1);
    cr_assert_str_neq(qk_errmsg(), "no error");
}

static void tracker_new_each_allocation_fails(qk_event_fn fn, size_t capacity)
{
    qk_options o = options(fn, capacity);
    /* A successful run counts the allocations and frees them all again. */
    qk_tracker *t = NULL;
    arm(-1);
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    const long n = attempts;
    cr_log_info("qk_tracker_new (private, capacity %zu) makes %ld allocations", capacity, n);
    cr_assert_gt(n, 0, "qk_tracker_new allocates");
    cr_assert_eq(live(), n, "every allocation is kept by the tracker");
    qk_tracker_free(t);
    disarm();
    cr_assert_eq(live(), 0, "qk_tracker_free frees every block (%ld left)", live());

    for (long k = 0; k < n; k++) {
        open_failing_allocation(&o, k, n, open_fds());
    }
}

Test(alloc, tracker_new_each_allocation_fails)
{
    tracker_new_each_allocation_fails(NULL, 0);
}

Test(alloc, tracker_new_with_events_and_room_each_allocation_fails)
{
    tracker_new_each_allocation_fails(count_event, 64);
}

/* Options for a state file at <a new temporary dir>/state; dir and path have PATH_MAX bytes. */
static qk_options state_file_options(char *dir, char *path)
{
    qkt_tmpdir_make(dir, "qk-alloc");
    qkt_path(path, dir, "state");
    qk_options o = options(count_event, 8);
    o.path = path;
    return o;
}

/* The state-file path. A new file: every allocation failing in turn leaves no file behind, or
 * one that opens as new; no descriptor leaks. */
Test(alloc, tracker_new_creating_a_state_file_each_allocation_fails)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qk_options o = state_file_options(dir, path);
    const int fds = open_fds();

    qk_tracker *t = NULL;
    arm(-1);
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    disarm();
    const long n = attempts;
    cr_log_info("qk_tracker_new creating a state file makes %ld allocations", n);
    cr_assert_gt(n, 0);
    arm(-1);
    qk_tracker_free(t);
    disarm();
    cr_assert_eq(live(), 0);
    cr_assert_eq(open_fds(), fds, "qk_tracker_free closes the file");

    for (long k = 0; k < n; k++) {
        unlink(path);
        open_failing_allocation(&o, k, n, fds);
        /* Whatever was left opens, with nothing counted. */
        cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "after a failed creation: %s", qk_errmsg());
        qk_usage u;
        cr_assert_eq(qk_peek(t, 0, &u), QK_OK);
        cr_assert_eq(u.windows[1].used, 0);
        qk_tracker_free(t);
    }
    unlink(path);
    rmdir(dir);
}

/* Reopening a file with on_event, a month later: the library allocates a buffer for the events
 * of the windows it rolls. Every allocation failing in turn leaves the file as it was. */
Test(alloc, tracker_new_reopening_a_state_file_each_allocation_fails)
{
    char dir[PATH_MAX], path[PATH_MAX];
    qk_options o = state_file_options(dir, path);
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_record(t, 0, 450, NULL), QK_OK); /* tiingo critical this month */
    qk_tracker_free(t);
    qkt_clock_advance(&clk, INT64_C(40) * 86400000); /* the next open rolls the windows: events */
    const int fds = open_fds();

    /* Count on a copy of the file, so the original stays un-rolled for the failing runs. */
    char copy[PATH_MAX];
    qkt_path(copy, dir, "copy");
    char cmd[2 * PATH_MAX + 8];
    snprintf(cmd, sizeof cmd, "cp %s %s", path, copy);
    cr_assert_eq(system(cmd), 0);
    o.path = copy;
    events = 0;
    arm(-1);
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    disarm();
    const long n = attempts;
    cr_log_info("qk_tracker_new reopening a state file makes %ld allocations", n);
    cr_assert_gt(events, 0, "the reopen rolled a window");
    qk_tracker_free(t);
    o.path = path;

    for (long k = 0; k < n; k++) {
        events = 0;
        open_failing_allocation(&o, k, n, fds);
        cr_assert_eq(events, 0, "events were delivered by a failed open");
    }
    /* The file was left as it was: the open that succeeds now rolls the windows and reports
     * the drop, and the forever window kept its 450 calls. */
    events = 0;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    cr_assert_gt(events, 0, "the failed opens had already rolled the windows");
    qk_usage u;
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK);
    cr_assert_eq(u.windows[1].used, 450);
    cr_assert_eq(u.windows[0].used, 0);
    qk_tracker_free(t);
    unlink(path);
    unlink(copy);
    rmdir(dir);
}

/* ---- qk_service_add ---- */

Test(alloc, service_add_each_allocation_fails)
{
    qk_options o = options(count_event, 8);
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK);
    qk_service_def d = {.name = "late"};
    d.windows[0] = (qk_window_def){QK_HOUR, 30};

    /* Count its allocations on a copy of the situation: add, then compare. */
    qk_service id = 99;
    arm(-1);
    cr_assert_eq(qk_service_add(t, &d, &id), QK_OK);
    disarm();
    const long n = attempts;
    cr_log_info("qk_service_add makes %ld allocations", n);
    cr_assert_eq(id, 3);
    qk_tracker_free(t);

    for (long k = 0; k < n; k++) {
        cr_assert_eq(qk_tracker_new(&t, &o), QK_OK);
        id = 99;
        arm(k);
        const int rc = qk_service_add(t, &d, &id);
        disarm();
        cr_assert_eq(rc, QK_ENOMEM, "allocation %ld of %ld failed: rc %d", k + 1, n, rc);
        cr_assert_eq(id, 99, "*out was changed");
        cr_assert_eq(qk_service_count(t), 3, "a service was half-added");
        qk_service found;
        cr_assert_eq(qk_service_find(t, "late", &found), QK_ENOENT);
        cr_assert_eq(live(), 0, "%ld blocks leaked", live());
        qk_tracker_free(t);
    }

    /* With no memory at all, an add that needs none still works. */
    if (n == 0) {
        cr_assert_eq(qk_tracker_new(&t, &o), QK_OK);
        arm(-1);
        fail_all = 1;
        const int rc = qk_service_add(t, &d, &id);
        disarm();
        cr_assert_eq(rc, QK_OK, "qk_service_add needs no memory, yet returned %d", rc);
        cr_assert_eq(id, 3);
        qk_tracker_free(t);
    }
}

/* ---- the event buffer of the all-services operations ---- */

static qk_tracker *filled(qk_event_fn fn)
{
    qk_options o = options(fn, 8);
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK);
    cr_assert_eq(qk_record(t, 0, 300, NULL), QK_OK); /* tiingo at warn */
    cr_assert_eq(qk_record(t, 1, 55, NULL), QK_OK);  /* finnhub critical */
    cr_assert_eq(qk_record(t, 2, 100, NULL), QK_OK); /* sendgrid exhausted */
    return t;
}

/* Zeroed first, so that padding and unused windows compare equal. */
static void snapshot_of(qk_tracker *t, qk_usage *out)
{
    memset(out, 0, 3 * sizeof *out);
    size_t count = 0;
    cr_assert_eq(qk_snapshot(t, out, 3, &count), QK_OK);
    cr_assert_eq(count, 3);
}

Test(alloc, snapshot_event_buffer_failing_changes_nothing)
{
    qk_tracker *t = filled(count_event);
    qk_usage before[3], out[3], after[3];
    snapshot_of(t, before);
    memset(out, 0xab, sizeof out);
    size_t count = 777;
    events = 0;
    arm(0);
    const int rc = qk_snapshot(t, out, 3, &count);
    disarm();
    const long n = attempts;
    cr_assert_eq(rc, QK_ENOMEM, "rc %d after %ld allocations", rc, n);
    cr_assert_eq(n, 1, "the event buffer is the only allocation");
    cr_assert_eq(count, 777, "*count was changed");
    unsigned char pattern[sizeof out];
    memset(pattern, 0xab, sizeof pattern);
    cr_assert_eq(memcmp(out, pattern, sizeof out), 0, "out was written");
    cr_assert_eq(live(), 0);
    cr_assert_eq(events, 0);
    snapshot_of(t, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "the tracker changed");
    qk_tracker_free(t);
}

Test(alloc, reset_all_event_buffer_failing_changes_nothing)
{
    qk_tracker *t = filled(count_event);
    qk_usage before[3], after[3];
    snapshot_of(t, before);
    events = 0;
    arm(0);
    const int rc = qk_reset_all(t);
    disarm();
    cr_assert_eq(rc, QK_ENOMEM, "rc %d", rc);
    cr_assert_eq(attempts, 1, "the event buffer is the only allocation");
    cr_assert_eq(live(), 0);
    cr_assert_eq(events, 0, "events were delivered for a reset that did not happen");
    snapshot_of(t, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "the counts changed");
    /* And with memory it resets, with one event per level that dropped. */
    cr_assert_eq(qk_reset_all(t), QK_OK);
    cr_assert_eq(events, 3);
    qk_tracker_free(t);
}

Test(alloc, all_services_operations_without_on_event_allocate_nothing)
{
    qk_tracker *t = filled(NULL);
    qk_usage out[3];
    size_t count = 0;
    arm(-1);
    fail_all = 1;
    cr_assert_eq(qk_snapshot(t, out, 3, &count), QK_OK);
    cr_assert_eq(qk_reset_all(t), QK_OK);
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
    cr_assert_eq(qk_try_consume(t, 1, 1, 0, NULL), QK_OK);
    disarm();
    cr_assert_eq(attempts, 0, "%ld allocations", attempts);
    qk_tracker_free(t);
}

Test(alloc, single_service_operations_with_on_event_allocate_nothing)
{
    qk_tracker *t = filled(count_event);
    qk_usage u;
    arm(-1);
    fail_all = 1;
    cr_assert_eq(qk_record(t, 0, 200, &u), QK_OK); /* crosses to exhausted: an event */
    cr_assert_eq(qk_refund(t, 0, 450), QK_OK);
    cr_assert_eq(qk_peek(t, 1, &u), QK_OK);
    cr_assert_eq(qk_set_used(t, 2, 0, 10), QK_OK);
    cr_assert_eq(qk_reset(t, 1), QK_OK);
    disarm();
    cr_assert_eq(attempts, 0, "%ld allocations", attempts);
    qk_tracker_free(t);
}
