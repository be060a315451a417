/* What a good file gives: options a tracker opens with, the limits it shows, and the layout
 * rules libinih brings (comments, whitespace, line endings). */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_test.h"

/* The example, as an operator would write it. */
static const char example[] = "[quotakeeper]\n"
                              "state = quota.qkstate   ; optional: the shared state file\n"
                              "[service tiingo]\n"
                              "month = 500\n"
                              "[service finnhub]\n"
                              "minute = 60\n"
                              "day = 1000\n"
                              "warn = 50\n"
                              "critical = 80\n"
                              "reserve = 10\n";

Test(config_load, file_to_options_to_tracker_to_peek, .init = config_setup, .fini = config_teardown)
{
    char path[PATH_MAX], state[PATH_MAX];
    qk_config *cfg = load_ok(write_ini(path, "quota.ini", example));
    const qk_options *o = qk_config_options(cfg);
    cr_assert_eq(o->version, QK_OPTIONS_VERSION);
    cr_assert_eq(o->n_services, 2);
    cr_assert_str_eq(o->path, qkt_path(state, test_dir, "quota.qkstate"),
                     "state is relative to the file's directory");
    cr_assert_str_eq(qk_config_path(cfg), path);
    cr_assert_eq(qk_config_service_line(cfg, 0), 3);
    cr_assert_eq(qk_config_service_line(cfg, 1), 5);

    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, o), QK_OK, "%s", qk_errmsg());
    qk_config_free(cfg); /* the tracker copied what it keeps */
    struct stat st;
    cr_assert_eq(stat(state, &st), 0, "the state file is where the config put it");

    const qk_usage tiingo = peek(t, 0), finnhub = peek(t, 1);
    cr_assert_str_eq(tiingo.name, "tiingo");
    cr_assert_eq(tiingo.n_windows, 1);
    cr_assert_eq(tiingo.windows[0].period, QK_MONTH);
    cr_assert_eq(tiingo.windows[0].limit, 500);
    cr_assert_str_eq(finnhub.name, "finnhub");
    cr_assert_eq(finnhub.n_windows, 2);
    cr_assert_eq(finnhub.windows[0].period, QK_MINUTE);
    cr_assert_eq(finnhub.windows[0].limit, 60);
    cr_assert_eq(finnhub.windows[1].period, QK_DAY);
    cr_assert_eq(finnhub.windows[1].limit, 1000);

    /* The reserve: 50 for everyone, the last 10 for QK_PRIORITY callers only. */
    qk_usage u;
    cr_assert_eq(qk_try_consume(t, 1, 50, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_try_consume(t, 1, 1, 0, &u), QK_ELIMIT);
    cr_assert_eq(qk_try_consume(t, 1, 10, QK_PRIORITY, &u), QK_OK, "%s", qk_errmsg());
    /* warn = 50 and critical = 80 of 60: critical at 48, so the minute is past it. */
    cr_assert_eq(peek(t, 1).windows[0].level, QK_LEVEL_EXHAUSTED);
    qk_tracker_free(t);
}

Test(config_load, thresholds_reach_the_tracker, .init = config_setup, .fini = config_teardown)
{
    char path[PATH_MAX];
    qk_config *cfg =
        load_ok(write_ini(path, "t.ini", "[service a]\nforever = 10\nwarn = 30\ncritical = 60\n"));
    qk_options o = *qk_config_options(cfg);
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_record(t, 0, 3, NULL), QK_OK);
    cr_assert_eq(peek(t, 0).level, QK_LEVEL_WARN);
    cr_assert_eq(qk_record(t, 0, 3, NULL), QK_OK);
    cr_assert_eq(peek(t, 0).level, QK_LEVEL_CRITICAL);
    cr_assert_eq(peek(t, 0).windows[0].reset_at_ms, QK_NEVER);
    qk_tracker_free(t);
    qk_config_free(cfg);
}

Test(config_load, every_key_maps_to_its_field, .init = config_setup, .fini = config_teardown)
{
    char path[PATH_MAX];
    qk_config *cfg = load_ok(write_ini(path, "all.ini",
                                       "[quotakeeper]\n"
                                       "state = /var/lib/app/q.qkstate\n"
                                       "store = redis://127.0.0.1:6379/0\n"
                                       "store_timeout_ms = 250\n"
                                       "[service a]\n"
                                       "forever = 7\n"
                                       "day = 1000\n"
                                       "minute = 60\n"
                                       "hour = 500\n"
                                       "warn = 40\n"
                                       "critical = 90\n"
                                       "reserve = 6\n"
                                       "outage = closed\n"
                                       "lease_max = 1\n"
                                       "[service b]\n"
                                       "month = 18446744073709551615\n"
                                       "outage = open\n"));
    const qk_options *o = qk_config_options(cfg);
    cr_assert_str_eq(o->path, "/var/lib/app/q.qkstate", "an absolute state path is kept");
    cr_assert_str_eq(o->store, "redis://127.0.0.1:6379/0");
    cr_assert_eq(o->store_timeout_ms, 250);
    const qk_options init = QK_OPTIONS_INIT;
    cr_assert_eq(o->capacity, init.capacity);
    cr_assert_null(o->clock);
    cr_assert_null(o->on_event);
    cr_assert_eq(o->mode, init.mode);
    cr_assert_eq(o->flags, init.flags);

    const qk_service_def *a = &o->services[0], *b = &o->services[1];
    cr_assert_str_eq(a->name, "a");
    const qk_window_def want[] = {{QK_FOREVER, 7}, {QK_DAY, 1000}, {QK_MINUTE, 60}, {QK_HOUR, 500}};
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(a->windows[i].period, want[i].period, "windows keep the file's order");
        cr_assert_eq(a->windows[i].limit, want[i].limit);
    }
    cr_assert_eq(a->warn_pct, 40);
    cr_assert_eq(a->critical_pct, 90);
    cr_assert_eq(a->reserve, 6);
    cr_assert_eq(a->outage, QK_OUTAGE_CLOSED);
    cr_assert_eq(a->lease_max, 1);
    cr_assert_str_eq(b->name, "b");
    cr_assert_eq(b->windows[0].limit, UINT64_MAX);
    cr_assert_eq(b->windows[1].limit, 0, "the window list ends");
    cr_assert_eq(b->warn_pct, 0, "0: the core's default");
    cr_assert_eq(b->outage, QK_OUTAGE_OPEN);
    qk_config_free(cfg);
}

Test(config_load, comments_whitespace_and_line_endings_as_libinih_reads_them, .init = config_setup,
     .fini = config_teardown)
{
    char path[PATH_MAX];
    qk_config *cfg = load_ok(write_ini(path, "layout.ini",
                                       "\xEF\xBB\xBF; a byte-order mark, then a comment\r\n"
                                       "# a comment too\r\n"
                                       "\r\n"
                                       "   [quotakeeper]   ; inline after a header\r\n"
                                       "\tstate=  weird;name.qkstate  \r\n"
                                       "[service\tfinnhub]\n"
                                       "    minute   =   60    ; inline after a value\n"
                                       "    day: 1000\n"
                                       "\n"
                                       "   ; an indented comment\n"
                                       "[service  sendgrid]\n"
                                       "day = 100\n"));
    const qk_options *o = qk_config_options(cfg);
    cr_assert_str_eq(o->path, qkt_path((char[PATH_MAX]){0}, test_dir, "weird;name.qkstate"),
                     "; is a comment only after whitespace");
    cr_assert_eq(o->n_services, 2);
    cr_assert_str_eq(o->services[0].name, "finnhub");
    cr_assert_eq(o->services[0].windows[0].limit, 60);
    cr_assert_eq(o->services[0].windows[1].period, QK_DAY,
                 "an indented key is a key, not the value above continued");
    cr_assert_eq(o->services[0].windows[1].limit, 1000);
    cr_assert_str_eq(o->services[1].name, "sendgrid");
    cr_assert_eq(qk_config_service_line(cfg, 0), 6);
    cr_assert_eq(qk_config_service_line(cfg, 1), 11);
    qk_config_free(cfg);
}

Test(config_load, a_file_without_services_and_relative_paths, .init = config_setup,
     .fini = config_teardown)
{
    char path[PATH_MAX];
    qk_config *cfg = load_ok(write_ini(path, "empty.ini", "; nothing yet\n[quotakeeper]\n"));
    const qk_options *o = qk_config_options(cfg);
    cr_assert_eq(o->n_services, 0);
    cr_assert_null(o->services);
    cr_assert_null(o->path);
    cr_assert_null(o->store);
    qk_config_free(cfg);

    /* A file named without a directory: the state path stays as written. */
    write_ini(path, "bare.ini", "[quotakeeper]\nstate = sub/q.qkstate\n");
    cr_assert_eq(chdir(test_dir), 0);
    cfg = load_ok("bare.ini");
    cr_assert_str_eq(qk_config_options(cfg)->path, "sub/q.qkstate");
    cr_assert_str_eq(qk_config_path(cfg), "bare.ini");
    qk_config_free(cfg);
}

Test(config_load, null_and_out_of_range_are_harmless)
{
    qk_config_free(NULL);
    cr_assert_null(qk_config_options(NULL));
    cr_assert_null(qk_config_path(NULL));
    cr_assert_eq(qk_config_service_line(NULL, 0), 0);
    cr_assert_str_neq(qk_config_errmsg(), "");
}

Test(config_load, service_line_out_of_range, .init = config_setup, .fini = config_teardown)
{
    char path[PATH_MAX];
    qk_config *cfg = load_ok(write_ini(path, "one.ini", "\n\n[service a]\nhour = 1\n"));
    cr_assert_eq(qk_config_service_line(cfg, 0), 3);
    cr_assert_eq(qk_config_service_line(cfg, 1), 0);
    qk_config_free(cfg);
}

Test(config_load, many_services_keep_their_order, .init = config_setup, .fini = config_teardown)
{
    char text[64 * 40] = "", path[PATH_MAX];
    for (int i = 0; i < 40; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "[service s%d]\nhour = %d\n", i,
                 i + 1);
    qk_config *cfg = load_ok(write_ini(path, "many.ini", text));
    const qk_options *o = qk_config_options(cfg);
    cr_assert_eq(o->n_services, 40);
    for (int i = 0; i < 40; i++) {
        char name[8];
        snprintf(name, sizeof name, "s%d", i);
        cr_assert_str_eq(o->services[i].name, name);
        cr_assert_eq(o->services[i].windows[0].limit, (uint64_t)i + 1);
        cr_assert_eq(qk_config_service_line(cfg, (size_t)i), (unsigned)(2 * i + 1));
    }
    qk_config_free(cfg);
}

typedef struct {
    qk_period period;
    uint64_t limit;
    unsigned every;
    int64_t offset_ms;
} shape;

static void expect_shapes(qk_tracker *t, qk_service s, const shape *want, unsigned n)
{
    qk_window_def got;
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(qk_window_get(t, s, i, &got), QK_OK, "%s", qk_errmsg());
        cr_expect_eq(got.period, want[i].period, "service %u window %u", (unsigned)s, i);
        cr_expect_eq(got.limit, want[i].limit, "service %u window %u", (unsigned)s, i);
        cr_expect_eq(got.every, want[i].every, "service %u window %u", (unsigned)s, i);
        cr_expect_eq(got.offset_ms, want[i].offset_ms, "service %u window %u: %lld", (unsigned)s, i,
                     (long long)got.offset_ms);
        cr_expect_eq(got.flags, 0u);
        cr_expect_null(got.tz);
    }
    cr_expect_neq(qk_window_get(t, s, n, &got), QK_OK, "service %u has %u windows", (unsigned)s, n);
}

/* Every window shape the file can write reaches the tracker as written (qk_window_get). */
Test(config_load, window_shapes_reach_the_tracker, .init = config_setup, .fini = config_teardown)
{
    char path[PATH_MAX];
    qk_config *cfg = load_ok(write_ini(path, "shapes.ini",
                                       "[service a]\n"
                                       "second = 30\n"
                                       "15 minutes = 900\n"
                                       "hour = 10 @ :30\n"
                                       "week = 5000\n"
                                       "[service b]\n"
                                       "day = 1000 @ 07:00\n"
                                       "week = 100 @ wed 09:00\n"
                                       "month = 1000 @ 5th\n"
                                       "every 3 months = 10000 @day 2 12:00:30\n"
                                       "[service c]\n"
                                       "minute = 60\n"
                                       "2 minutes = 100\n"
                                       "10 seconds = 20 @ :00:05\n"
                                       "2 days = 7 @ 23:59:59\n"));
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, qk_config_options(cfg)), QK_OK, "%s", qk_errmsg());
    qk_config_free(cfg);
    const int64_t m = 60000, h = 60 * m, d = 24 * h;
    const shape a[] = {{QK_SECOND, 30, 1, 0},
                       {QK_MINUTE, 900, 15, 0},
                       {QK_HOUR, 10, 1, 30 * m},
                       {QK_WEEK, 5000, 1, 0}};
    const shape b[] = {{QK_DAY, 1000, 1, 7 * h},
                       {QK_WEEK, 100, 1, 2 * d + 9 * h},
                       {QK_MONTH, 1000, 1, 4 * d},
                       {QK_MONTH, 10000, 3, d + 12 * h + 30000}};
    const shape c[] = {{QK_MINUTE, 60, 1, 0},
                       {QK_MINUTE, 100, 2, 0},
                       {QK_SECOND, 20, 10, 5000},
                       {QK_DAY, 7, 2, d - 1000}};
    expect_shapes(t, 0, a, 4);
    expect_shapes(t, 1, b, 4);
    expect_shapes(t, 2, c, 4);
    qk_tracker_free(t);
}

static int64_t fake_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* A rolling window written in the file counts as one (docs/windows.md, "Rolling windows"): at
 * most 30 in any second, so the 31st is refused past the fixed second's end and granted once the
 * first calls' 20 ms bucket has left, a second later. */
Test(config_load, a_rolling_second_reaches_a_private_tracker, .init = config_setup,
     .fini = config_teardown)
{
    char path[PATH_MAX];
    qk_config *cfg =
        load_ok(write_ini(path, "rolling.ini", "[service f]\nrolling second = 30\nminute = 60\n"));
    qk_options o = *qk_config_options(cfg);
    cr_assert_null(o.path, "no state key: a private tracker");
    cr_assert_eq(o.n_services, 1);
    const qk_window_def *w = o.services[0].windows;
    cr_assert_eq(w[0].flags, QK_WINDOW_ROLLING);
    cr_assert_eq(w[0].period, QK_SECOND);
    cr_assert_eq(w[0].every, 1);
    cr_assert_eq(w[0].limit, 30);
    cr_assert_eq(w[1].flags, 0u);
    cr_assert_eq(w[1].period, QK_MINUTE);
    cr_assert_eq(w[1].limit, 60);

    /* 12:00:00.250: a fixed second would end 750 ms on. */
    int64_t now = 1767268800000 + 250;
    o.clock = fake_clock;
    o.clock_ctx = &now;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK, "%s", qk_errmsg());
    qk_config_free(cfg);
    qk_window_def got;
    cr_assert_eq(qk_window_get(t, 0, 0, &got), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(got.flags, QK_WINDOW_ROLLING, "the tracker keeps the flag");

    qk_usage u;
    for (int i = 0; i < 30; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_OK, "consume %d: %s", i, qk_errmsg());
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_ELIMIT, "the 31st in the same instant");
    now += 800; /* past the fixed second's end */
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_ELIMIT, "the 31st within one second");
    cr_assert_eq(u.tripped, 0);
    /* The calls' bucket [..240, ..260) leaves when bucket + 51 begins: 1010 ms after them. */
    cr_assert(u.reset_at_ms >= 1767268800250 + 1000 && u.reset_at_ms <= 1767268800250 + 1020,
              "reset_at %lld", (long long)u.reset_at_ms);
    now = 1767268800250 + 1000;
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_ELIMIT, "a second on, the bucket is still in");
    now = 1767268800250 + 1020; /* a second plus one 20 ms bucket */
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(peek(t, 0).windows[0].used, 1, "the 30 slid out");
    cr_assert_eq(peek(t, 0).windows[1].used, 31, "the minute still holds them");
    qk_tracker_free(t);
}
