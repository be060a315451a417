/* State files written by earlier releases (docs/stability.md): tests/state/data/v0.2.0.qkstate,
 * written by 0.2.0 (layout 2) as tests/state/data/make_v0.2.0.c says, at 2026-01-09T12:00:15Z:
 * "tiingo" {minute 100, day 1000, reserve 5} with 57 recorded, "finnhub" {forever 50} with 3
 * consumed. This library reads it in place with every count, its seals holding (the window
 * shapes of issue 22 live in what 0.2 left as zero padding), and counts on in it. */
#include <stdio.h>
#include <sys/stat.h>

#include "clock.h"
#include "files.h"
#include "store/area.h" /* a real store area, made as a store's attach makes it */
#include "tracker.h"
#include "qkt_criterion.h"
#include "state_test.h"
#include "tmpdir.h"

TestSuite(state_compat, .timeout = 60);

#define WRITTEN_AT (QKT_T0_MS + 15000)

/* A copy of the committed file in a fresh directory: the test must not change the original. */
static void copy_of_v02(char *dir, char *path)
{
    qkt_tmpdir_make(dir, "qk-compat");
    qkt_path(path, dir, "v0.2.0.qkstate");
    FILE *in = fopen(QKT_DATA_DIR "/v0.2.0.qkstate", "rb");
    cr_assert_not_null(in, "cannot open %s", QKT_DATA_DIR "/v0.2.0.qkstate");
    FILE *out = fopen(path, "wb");
    cr_assert_not_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    chmod(path, 0600);
}

static qk_tracker *open_file(const char *path, qkt_clock *clk, unsigned flags)
{
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    o.flags = flags;
    o.clock = qkt_clock_read;
    o.clock_ctx = clk;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    return t;
}

Test(state_compat, a_0_2_file_opens_with_its_counts)
{
    char dir[PATH_MAX], path[PATH_MAX];
    copy_of_v02(dir, path);
    qkt_clock clk;
    qkt_clock_set(&clk, WRITTEN_AT + 30000); /* 12:00:45: the same minute */
    /* Read-only first: the file as 0.2 left it, every slot checked (seals included). */
    qk_tracker *ro = open_file(path, &clk, QK_OPEN_READONLY);
    qk_service tiingo, finnhub;
    cr_assert_eq(qk_service_find(ro, "tiingo", &tiingo), QK_OK);
    cr_assert_eq(qk_service_find(ro, "finnhub", &finnhub), QK_OK);
    qk_usage u;
    cr_assert_eq(qk_peek(ro, tiingo, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.n_windows, 2);
    cr_assert_eq(u.windows[0].used, 57);
    cr_assert_eq(u.windows[0].window_start_ms, QKT_T0_MS);
    cr_assert_eq(u.windows[0].reset_at_ms, QKT_T0_MS + QKT_MIN);
    cr_assert_eq(u.windows[1].used, 57);
    cr_assert_eq(u.windows[1].limit, 1000);
    cr_assert_eq(u.windows[1].window_start_ms, QKT_T0_MS - 12 * QKT_HOUR);
    qk_window_def w;
    cr_assert_eq(qk_window_get(ro, tiingo, 0, &w), QK_OK, "%s", qk_errmsg());
    cr_assert(w.period == QK_MINUTE && w.every == 1 && w.offset_ms == 0 && w.flags == 0);
    cr_assert_eq(qk_peek(ro, finnhub, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].used, 3);
    cr_assert_eq(u.windows[0].period, QK_FOREVER);
    qk_tracker_free(ro);

    /* Read-write, cold (this process alone): checked and repaired, then counting on. */
    qk_tracker *t = open_file(path, &clk, 0);
    cr_assert_eq(qk_record(t, tiingo, 1, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].used, 58);
    cr_assert_eq(qk_try_consume(t, finnhub, 47, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_try_consume(t, finnhub, 1, 0, &u), QK_ELIMIT, "the 0.2 count was kept");
    /* The reserve of 5 came with the file: a plain consume stops at 95 of the minute's 100. */
    cr_assert_eq(qk_try_consume(t, tiingo, 37, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_try_consume(t, tiingo, 1, 0, &u), QK_ELIMIT);
    qkt_clock_set(&clk, QKT_T0_MS + QKT_MIN); /* the minute turns, the day does not */
    cr_assert_eq(qk_peek(t, tiingo, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 0);
    cr_assert_eq(u.windows[1].used, 95);
    qk_tracker_free(t);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* ---- layout 3: rolling windows' rings after the names (issue 22) ---- */

static uint32_t layout_of(const char *path, off_t *size)
{
    st_image im = st_image_map(path);
    const uint32_t v = im.hdr->layout_version;
    *size = (off_t)im.size;
    st_image_unmap(&im);
    return v;
}

static qk_tracker *open_with(const char *path, qkt_clock *clk, const qk_service_def *defs, size_t n)
{
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    o.services = defs;
    o.n_services = n;
    o.clock = qkt_clock_read;
    o.clock_ctx = clk;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    return t;
}

/* tiingo as 0.2 defined it, plus a rolling 10 a second. */
static qk_service_def tiingo_rolling(void)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = "tiingo";
    d.windows[0] = (qk_window_def){QK_MINUTE, 100};
    d.windows[1] = (qk_window_def){QK_DAY, 1000};
    d.windows[2] = (qk_window_def){QK_SECOND, 10, .flags = QK_WINDOW_ROLLING};
    d.reserve = 5;
    return d;
}

Test(state_compat, a_0_2_file_grows_to_layout_3_and_takes_a_rolling_window)
{
    char dir[PATH_MAX], path[PATH_MAX];
    copy_of_v02(dir, path);
    off_t size2, size3;
    cr_assert_eq(layout_of(path, &size2), 2);
    qkt_clock clk;
    qkt_clock_set(&clk, WRITTEN_AT + 30000);
    /* A read-only open leaves it as it is. */
    qk_tracker *ro = open_file(path, &clk, QK_OPEN_READONLY);
    qk_tracker_free(ro);
    cr_assert_eq(layout_of(path, &size3), 2);
    cr_assert_eq(size3, size2);

    const qk_service_def d = tiingo_rolling();
    qk_tracker *t = open_with(path, &clk, &d, 1);
    cr_assert_eq(layout_of(path, &size3), 3, "a cold read-write open upgrades the file");
    cr_assert_eq((size_t)size3, qk__region_size_layout(3, 4));
    cr_assert_eq((size_t)size2, qk__region_size_layout(2, 4),
                 "grown from its own end: no slot moved");
    cr_assert_geq((size_t)size3 - (size_t)size2, 4 * sizeof(qk_ring_set) + sizeof(qk_zone_table));
    qk_usage u;
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].used, 57, "the minute's 0.2 count");
    cr_assert_eq(u.windows[1].used, 57, "the day's");
    cr_assert_eq(u.windows[2].used, 0, "the new rolling window starts empty");
    cr_assert_eq(qk_try_consume(t, 0, 5, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_ELIMIT, "the reserve of 5 from the file");
    cr_assert_eq(u.tripped, 2);
    cr_assert_eq(qk_try_consume(t, 0, 5, QK_PRIORITY, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 67);
    qk_tracker_free(t);
    /* The buckets are in the file: a second later the rolling calls have left, not before. */
    qkt_clock_set(&clk, WRITTEN_AT + 30999);
    t = open_with(path, &clk, &d, 1);
    cr_assert_eq(qk_try_consume(t, 0, 1, QK_PRIORITY, &u), QK_ELIMIT);
    qkt_clock_set(&clk, WRITTEN_AT + 31020);
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[2].used, 1);
    cr_assert_eq(u.windows[0].used, 68);
    qk_tracker_free(t);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

Test(state_compat, an_upgrade_cut_between_checksum_and_version_reads_as_layout_2)
{
    char dir[PATH_MAX], path[PATH_MAX];
    copy_of_v02(dir, path);
    /* What a crash at QK_TP_LAYOUT_HALF_UPGRADED leaves: the layout-3 checksum, version 2. */
    st_image im = st_image_map(path);
    qk_header h3;
    memcpy(&h3, im.hdr, sizeof h3);
    h3.layout_version = 3;
    im.hdr->checksum = st_header_checksum(&h3);
    st_image_unmap(&im);
    qkt_clock clk;
    qkt_clock_set(&clk, WRITTEN_AT + 30000);
    qk_tracker *ro = open_file(path, &clk, QK_OPEN_READONLY);
    qk_usage u;
    cr_assert_eq(qk_peek(ro, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].used, 57);
    qk_tracker_free(ro);
    const qk_service_def d = tiingo_rolling();
    qk_tracker *t = open_with(path, &clk, &d, 1);
    off_t size;
    cr_assert_eq(layout_of(path, &size), 3, "the next cold open finishes the upgrade");
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK);
    cr_assert_eq(u.windows[1].used, 57);
    qk_tracker_free(t);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);

    /* Any other checksum is still a mismatch. */
    copy_of_v02(dir, path);
    im = st_image_map(path);
    im.hdr->checksum ^= 1;
    st_image_unmap(&im);
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    qk_tracker *bad = NULL;
    cr_assert_eq(qk_tracker_new(&bad, &o), QK_ECORRUPT);
    cr_assert_not_null(strstr(qk_errmsg(), "checksum"), "%s", qk_errmsg());
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

/* Every count 0.2 wrote, on the file as it is now. */
static void expect_v02_counts(qk_tracker *t)
{
    qk_usage u;
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].used, 57, "tiingo's minute");
    cr_assert_eq(u.windows[1].used, 57, "tiingo's day");
    cr_assert_eq(qk_peek(t, 1, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(u.windows[0].used, 3, "finnhub");
}

/* An upgrade killed after posix_fallocate grew the file, before the version store: the file is
 * larger than a layout-2 one but has no store area after its names. The next cold open must
 * finish the upgrade; it used to take the size for a store's area and leave the file at layout 2
 * for good. Both kill points: before the checksum store, and at QK_TP_LAYOUT_HALF_UPGRADED. */
Test(state_compat, an_upgrade_killed_after_the_file_grew_is_finished_by_the_next_cold_open)
{
    for (int checksum3 = 0; checksum3 <= 1; checksum3++) {
        char dir[PATH_MAX], path[PATH_MAX];
        copy_of_v02(dir, path);
        cr_assert_eq(truncate(path, (off_t)qk__region_size_layout(3, 4)), 0);
        st_image im = st_image_map(path);
        if (checksum3) {
            qk_header h3;
            memcpy(&h3, im.hdr, sizeof h3);
            h3.layout_version = 3;
            im.hdr->checksum = st_header_checksum(&h3);
        }
        cr_assert_eq(im.hdr->layout_version, 2);
        st_image_unmap(&im);
        qkt_clock clk;
        qkt_clock_set(&clk, WRITTEN_AT + 30000);
        const qk_service_def d = tiingo_rolling();
        qk_tracker *t = open_with(path, &clk, &d, 1);
        off_t size;
        cr_assert_eq(layout_of(path, &size), 3,
                     "the next cold open finishes the upgrade (layout-%d checksum)",
                     checksum3 ? 3 : 2);
        cr_assert_eq((size_t)size, qk__region_size_layout(3, 4));
        expect_v02_counts(t);
        qk_usage u;
        cr_assert_eq(qk_try_consume(t, 0, 5, 0, &u), QK_OK, "the rolling window counts: %s",
                     qk_errmsg());
        cr_assert_eq(u.windows[2].used, 5);
        qk_tracker_free(t);
        cr_assert_eq(qkt_tmpdir_remove(dir), 0);
    }
}

/* A layout-2 file with a real store area after its names (made by src/store/area.c, as a store's
 * attach makes it) keeps layout 2 at a cold open: the area's magic, not the size, says so. */
Test(state_compat, a_layout_2_file_with_a_store_area_keeps_layout_2)
{
    char dir[PATH_MAX], path[PATH_MAX];
    copy_of_v02(dir, path);
    qkt_clock clk;
    qkt_clock_set(&clk, WRITTEN_AT + 30000);
    qk_tracker *ro = open_file(path, &clk, QK_OPEN_READONLY); /* leaves it at layout 2 */
    qk__store_area a;
    cr_assert_eq(qk__store_area_open(&a, &ro->region), QK_OK, "%s", qk_errmsg());
    qk__store_area_close(&a);
    qk_tracker_free(ro);
    off_t size2;
    cr_assert_eq(layout_of(path, &size2), 2);
    cr_assert_gt((size_t)size2, qk__region_size_layout(2, 4), "the area follows the region");
    qk_tracker *t = open_file(path, &clk, 0);
    off_t size;
    cr_assert_eq(layout_of(path, &size), 2, "a file with a store area stays at layout 2");
    cr_assert_eq(size, size2);
    expect_v02_counts(t);
    qk_tracker_free(t);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}

Test(state_compat, a_layout_2_file_in_use_refuses_rolling_windows_and_says_why)
{
    char dir[PATH_MAX], path[PATH_MAX];
    copy_of_v02(dir, path);
    qkt_clock clk;
    qkt_clock_set(&clk, WRITTEN_AT + 30000);
    /* A read-only tracker keeps it in use (as a 0.2 process would): the next open is warm and
     * cannot grow the file under it. */
    qk_tracker *ro = open_file(path, &clk, QK_OPEN_READONLY);
    const qk_service_def d = tiingo_rolling();
    qk_options o = QK_OPTIONS_INIT;
    o.path = path;
    o.services = &d;
    o.n_services = 1;
    o.clock = qkt_clock_read;
    o.clock_ctx = &clk;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_EINVAL);
    cr_assert_not_null(strstr(qk_errmsg(), "layout 2"), "%s", qk_errmsg());
    /* Without the rolling window it opens, counts kept, and stays at layout 2. */
    t = open_file(path, &clk, 0);
    qk_usage u;
    cr_assert_eq(qk_peek(t, 0, &u), QK_OK);
    cr_assert_eq(u.windows[0].used, 57);
    cr_assert_eq(
        qk_service_add(t,
                       &(qk_service_def){.name = "roll",
                                         .windows = {{QK_SECOND, 5, .flags = QK_WINDOW_ROLLING}}},
                       NULL),
        QK_EINVAL);
    cr_assert_not_null(strstr(qk_errmsg(), "layout 2"), "%s", qk_errmsg());
    qk_tracker_free(t);
    qk_tracker_free(ro);
    off_t size;
    cr_assert_eq(layout_of(path, &size), 2);
    cr_assert_eq(qkt_tmpdir_remove(dir), 0);
}
