/* State files written by earlier releases (docs/stability.md): tests/state/data/v0.2.0.qkstate,
 * written by 0.2.0 (layout 2) as tests/state/data/make_v0.2.0.c says, at 2026-01-09T12:00:15Z:
 * "tiingo" {minute 100, day 1000, reserve 5} with 57 recorded, "finnhub" {forever 50} with 3
 * consumed. This library reads it in place with every count, its seals holding (the window
 * shapes of issue 22 live in what 0.2 left as zero padding), and counts on in it. */
#include <stdio.h>
#include <sys/stat.h>

#include "clock.h"
#include "files.h"
#include "qkt_criterion.h"
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
