/* QK_OPEN_READONLY (issue 13): an existing, finished file only; nothing created, configured,
 * reconciled or written; every change refused with QK_EREADONLY and nothing changed; peeks and
 * snapshots current (ended windows shown rolled) while the file keeps what it had; a writer's
 * counts visible at once; no events. */
#include "state_test.h"

TestSuite(readonly, .init = st_setup, .fini = st_teardown);

/* "a" (MINUTE 10, DAY 100) with 6 calls, "b" (MONTH 50) with 7, room for 4; at T0. */
static void make_file(const char *path)
{
    const qk_service_def defs[2] = {qkt_svc_def("a", QK_MINUTE, 10, QK_DAY, 100),
                                    qkt_svc_def("b", QK_MONTH, 50, 0, 0)};
    const qk_options o = st_opts(path, defs, 2, 4, NULL);
    qk_tracker *t = st_open(&o);
    cr_assert_eq(qk_record(t, 0, 6, NULL), QK_OK);
    cr_assert_eq(qk_record(t, 1, 7, NULL), QK_OK);
    qk_tracker_free(t);
}

static qk_tracker *open_readonly(const char *path, qkt_clock *now, qkt_evrec *log)
{
    qk_options o = st_opts_existing(path);
    o.flags = QK_OPEN_READONLY;
    o.clock_ctx = now;
    if (log != NULL) {
        o.on_event = qkt_evrec_fn;
        o.payload = log;
    }
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    return t;
}

/* The file's bytes with every mutex zeroed: taking a lock writes its lock word, so that is the
 * one thing a reader may change. Everything else (counts, windows, journal marks, names, the
 * header) must stay as it was. */
typedef struct {
    unsigned char *bytes;
    size_t size;
} data_image;

static data_image data_of(const char *path)
{
    data_image d;
    d.bytes = qkt_read_file(path, &d.size);
    qk_header *h = (qk_header *)d.bytes;
    memset(&h->snapshot_lock, 0, sizeof h->snapshot_lock);
    qk_slot *slots = (qk_slot *)(d.bytes + qk__region_size(0));
    for (uint32_t i = 0; i < h->capacity; i++)
        memset(&slots[i].lock, 0, sizeof slots[i].lock);
    return d;
}

static void assert_same_data(const char *path, data_image *before)
{
    data_image now = data_of(path);
    cr_assert_eq(now.size, before->size, "the file's size changed");
    for (size_t i = 0; i < now.size; i++)
        cr_assert_eq(now.bytes[i], before->bytes[i], "byte %zu changed", i);
    free(now.bytes);
    free(before->bytes);
}

static void expect_readonly(int rc, const char *what)
{
    cr_assert_eq(rc, QK_EREADONLY, "%s: %s", what, qk_strerror(rc));
    cr_assert_not_null(strstr(qk_errmsg(), "QK_OPEN_READONLY"), "%s: '%s'", what, qk_errmsg());
}

/* Catches: a read-only tracker that writes anything: a change let through, a window rolled in
 * the file, a reconciliation, or a journal mark left behind. The file is compared byte for
 * byte, lock words aside, after every kind of call. */
Test(readonly, reads_everything_and_changes_nothing, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "state.qk");
    make_file(path);
    data_image before = data_of(path);

    qkt_clock now = {T0 + 1000};
    qkt_evrec log;
    qkt_evrec_init(&log);
    qk_tracker *t = open_readonly(path, &now, &log);
    cr_assert_eq(qk_service_count(t), 2, "the file's services, as they are");
    qk_service b = 9;
    cr_assert_eq(qk_service_find(t, "b", &b), QK_OK);
    cr_assert_eq(b, 1);
    cr_assert_eq(used_of(t, 0, 0), 6);
    cr_assert_eq(used_of(t, 0, 1), 6);
    cr_assert_eq(used_of(t, 1, 0), 7);
    qk_usage snap[4];
    size_t n = 0;
    cr_assert_eq(qk_snapshot(t, snap, 4, &n), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(n, 2);
    cr_assert_eq(snap[0].windows[0].used, 6);
    cr_assert_eq(snap[1].windows[0].used, 7);
    cr_assert_str_eq(snap[1].name, "b");

    qk_usage u;
    memset(&u, 0x5a, sizeof u);
    const qk_usage poisoned = u;
    expect_readonly(qk_record(t, 0, 1, &u), "record");
    cr_assert(memcmp(&u, &poisoned, sizeof u) == 0, "out written on a refused record");
    expect_readonly(qk_try_consume(t, 0, 1, 0, &u), "consume");
    cr_assert(memcmp(&u, &poisoned, sizeof u) == 0, "out written on a refused consume");
    expect_readonly(qk_refund(t, 0, 1), "refund");
    expect_readonly(qk_set_used(t, 0, 0, 1), "set_used");
    expect_readonly(qk_reset(t, 0), "reset");
    expect_readonly(qk_reset_all(t), "reset_all");
    const qk_service_def c = qkt_svc_def("c", QK_DAY, 5, 0, 0);
    qk_service s = 77;
    expect_readonly(qk_service_add(t, &c, &s), "service_add");
    cr_assert_eq(s, 77, "out written on a refused service_add");
    cr_assert_eq(qk_service_count(t), 2);
    /* Unknown services are still ENOENT: the check that costs nothing comes first. */
    cr_assert_eq(qk_record(t, 5, 1, NULL), QK_ENOENT);
    cr_assert_eq(qk_tracker_flush(t), QK_OK);
    cr_assert_eq(used_of(t, 0, 0), 6, "nothing counted");
    qk_tracker_free(t);

    cr_assert_eq(qkt_evrec_count(&log), 0, "a read-only tracker causes no event");
    assert_same_data(path, &before);
}

/* Catches: a peek that rolls the file's window (it would then stay rolled for everyone), or one
 * that shows an ended window's stale count. */
Test(readonly, ended_windows_are_shown_rolled_but_stay_in_the_file, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "state.qk");
    make_file(path);
    data_image before = data_of(path);

    qkt_clock later = {T0 + 2 * QKT_MIN}; /* a's minute has ended; its day has not */
    qkt_evrec log;
    qkt_evrec_init(&log);
    qk_tracker *t = open_readonly(path, &later, &log);
    qk_usage u = peek(t, 0);
    cr_assert_eq(u.windows[0].used, 0, "the ended minute is shown as the new one");
    cr_assert_eq(u.windows[0].window_start_ms, T0 + 2 * QKT_MIN);
    cr_assert_eq(u.windows[0].level, QK_LEVEL_OK, "its level is the new window's");
    cr_assert_eq(u.windows[1].used, 6, "the day goes on");
    qk_usage snap[2];
    size_t n = 0;
    cr_assert_eq(qk_snapshot(t, snap, 2, &n), QK_OK);
    cr_assert_eq(snap[0].windows[0].used, 0);
    cr_assert_eq(snap[0].windows[0].window_start_ms, T0 + 2 * QKT_MIN);
    qk_tracker_free(t);
    cr_assert_eq(qkt_evrec_count(&log), 0, "rolling a copy is nobody's event");
    assert_same_data(path, &before);

    /* A writer back at T0 still finds its minute and its 6 calls: windows never move back, so
     * a roll written to the file would have lost them. */
    const qk_options o = st_opts_existing(path);
    qk_tracker *w = st_open(&o);
    cr_assert_eq(used_of(w, 0, 0), 6);
    qk_tracker_free(w);
}

/* A writer's counts are visible to a read-only tracker at once (the same shared pages). */
Test(readonly, sees_a_writer_at_once, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "state.qk");
    make_file(path);
    const qk_options o = st_opts_existing(path);
    qk_tracker *w = st_open(&o);
    qk_tracker *r = open_readonly(path, &st_t0, NULL);
    for (uint64_t i = 1; i <= 3; i++) {
        cr_assert_eq(qk_record(w, 1, 1, NULL), QK_OK);
        cr_assert_eq(used_of(r, 1, 0), 7 + i);
    }
    qk_tracker_free(r);
    cr_assert_eq(qk_record(w, 1, 1, NULL), QK_OK, "the writer goes on after the reader left");
    qk_tracker_free(w);
}

/* Catches: a read-only open that creates the file, or builds one that is empty. */
Test(readonly, never_creates, .timeout = 30)
{
    char path[PATH_MAX];
    st_path(path, "missing.qk");
    qk_options o = st_opts_existing(path);
    o.flags = QK_OPEN_READONLY;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_EIO);
    cr_assert_not_null(strstr(qk_errmsg(), "No such file"), "%s", qk_errmsg());
    cr_assert_null(t);
    cr_assert_eq(access(path, F_OK), -1, "the file was created");

    qkt_write_file(path, "", 0, 0600);
    qkt_file_fp before = qkt_file_fingerprint(path);
    cr_assert_eq(qk_tracker_new(&t, &o), QK_EIO);
    cr_assert_not_null(strstr(qk_errmsg(), "not finished"), "%s", qk_errmsg());
    cr_assert_null(t);
    qkt_file_assert_untouched(path, &before);
}
