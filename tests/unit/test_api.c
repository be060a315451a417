/* The public API's contract: lifecycle, registration, every bad input with its specific code,
 * nothing changed on error (state and outputs), qk_errmsg, the error table, level names and the
 * version. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <time.h>

#include <stdatomic.h>
#include <stdio.h>

#include "clock.h"
#include "evrec.h"
#include "qkt_criterion.h"
#include "usage.h"
#include "utc.h"

/* Error values are frozen: programs compare against them. */
_Static_assert(QK_OK == 0, "QK_OK");
_Static_assert(QK_EINVAL == -1, "QK_EINVAL");
_Static_assert(QK_ENOENT == -2, "QK_ENOENT");
_Static_assert(QK_EEXIST == -3, "QK_EEXIST");
_Static_assert(QK_ENOMEM == -4, "QK_ENOMEM");
_Static_assert(QK_ELIMIT == -5, "QK_ELIMIT");
_Static_assert(QK_EFULL == -6, "QK_EFULL");
_Static_assert(QK_ERANGE == -7, "QK_ERANGE");
_Static_assert(QK_EIO == -8, "QK_EIO");
_Static_assert(QK_ECORRUPT == -9, "QK_ECORRUPT");
_Static_assert(QK_EUNAVAIL == -10, "QK_EUNAVAIL");
_Static_assert(QK_EREADONLY == -11, "QK_EREADONLY");
_Static_assert(QK_MAX_WINDOWS == 4 && QK_NAME_MAX == 64, "sizes");
_Static_assert(QK_LEVEL_OK < QK_LEVEL_WARN && QK_LEVEL_WARN < QK_LEVEL_CRITICAL &&
                   QK_LEVEL_CRITICAL < QK_LEVEL_EXHAUSTED,
               "levels are ordered");

static qkt_clock clk;
static qkt_evrec log_;

/* Two services: "tiingo" 500/month and "finnhub" 60/minute + 1000/day, with room for 4. */
static qk_tracker *two_services(void)
{
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 0, 0, 0));
    qkt_evrec_init(&log_);
    qk_service_def defs[2] = {qkt_svc_def("tiingo", QK_MONTH, 500, QK_MINUTE, 0),
                              qkt_svc_def("finnhub", QK_MINUTE, 60, QK_DAY, 1000)};
    qk_tracker *t = new_tracker(defs, 2, 4, &clk, &log_);
    cr_assert_eq(qk_record(t, 0, 260, NULL), QK_OK); /* tiingo at WARN */
    cr_assert_eq(qk_record(t, 1, 7, NULL), QK_OK);
    return t;
}

/* ---- lifecycle and registration ---- */

Test(api, new_and_free)
{
    qk_options o = QK_OPTIONS_INIT;
    o.capacity = 3;
    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &o), QK_OK);
    cr_assert_not_null(t);
    cr_assert_eq(qk_service_count(t), 0);
    size_t n = 99;
    cr_assert_eq(qk_snapshot(t, NULL, 0, &n), QK_OK, "no services: nothing to hold");
    cr_assert_eq(n, 0);
    cr_assert_eq(qk_reset_all(t), QK_OK);
    qk_tracker_free(t);
    qk_tracker_free(NULL); /* a no-op */
}

Test(api, options_init_defaults)
{
    const qk_options o = QK_OPTIONS_INIT;
    cr_assert_eq(o.version, QK_OPTIONS_VERSION);
    cr_assert_null(o.services);
    cr_assert_eq(o.n_services, 0);
    cr_assert_eq(o.capacity, 0);
    cr_assert_null(o.clock);
    cr_assert_null(o.on_event);
    cr_assert_null(o.path);
    cr_assert_eq(o.flags, 0);
    cr_assert_null(o.store);
    cr_assert_eq(o.store_timeout_ms, 0);
}

Test(api, system_clock_when_none_given)
{
    qk_service_def d = qkt_svc_def("s", QK_DAY, 10, QK_MINUTE, 0);
    qk_tracker *t = new_tracker(&d, 1, 0, NULL, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t now = (int64_t)ts.tv_sec * 1000;
    const qk_usage u = peek(t, 0);
    /* The window holds now (give or take a day at midnight). */
    cr_assert_leq(u.windows[0].window_start_ms, now + QKT_DAY);
    cr_assert_gt(u.windows[0].reset_at_ms, now - QKT_DAY);
    cr_assert_eq(u.windows[0].reset_at_ms - u.windows[0].window_start_ms, QKT_DAY);
    cr_assert_eq(u.windows[0].window_start_ms % QKT_DAY, 0);
    qk_tracker_free(t);
}

Test(api, services_from_options_get_dense_indices_in_order)
{
    qkt_clock_set(&clk, qkt_utc(2024, 1, 2, 10, 0, 0, 0));
    qk_service_def defs[3] = {qkt_svc_def("tiingo", QK_MONTH, 500, QK_MINUTE, 0),
                              qkt_svc_def("finnhub", QK_MINUTE, 60, QK_MINUTE, 0),
                              qkt_svc_def("sendgrid", QK_DAY, 100, QK_MINUTE, 0)};
    qk_tracker *t = new_tracker(defs, 3, 5, &clk, NULL);
    cr_assert_eq(qk_service_count(t), 3);
    const char *names[3] = {"tiingo", "finnhub", "sendgrid"};
    for (qk_service i = 0; i < 3; i++) {
        qk_service s = 99;
        cr_assert_eq(qk_service_find(t, names[i], &s), QK_OK);
        cr_assert_eq(s, i);
        const qk_usage u = peek(t, i);
        cr_assert_str_eq(u.name, names[i]);
        cr_assert_eq(u.service, i);
        cr_assert_eq(u.n_windows, 1);
        cr_assert_eq(u.tripped, -1);
        cr_assert_eq(u.level, QK_LEVEL_OK);
        cr_assert_eq(u.remaining, defs[i].windows[0].limit);
    }
    /* Added ones continue the sequence. */
    qk_service s = 99;
    qk_service_def d = qkt_svc_def("extra", QK_HOUR, 5, QK_MINUTE, 0);
    cr_assert_eq(qk_service_add(t, &d, &s), QK_OK);
    cr_assert_eq(s, 3);
    d.name = "extra2";
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK, "out may be NULL");
    cr_assert_eq(qk_service_find(t, "extra2", &s), QK_OK);
    cr_assert_eq(s, 4);
    cr_assert_eq(qk_service_count(t), 5);
    qk_tracker_free(t);
}

Test(api, the_name_is_copied)
{
    char name[16] = "copied";
    qk_service_def d = qkt_svc_def(name, QK_DAY, 10, QK_MINUTE, 0);
    qk_tracker *t = new_tracker(&d, 1, 2, &clk, NULL);
    strcpy(name, "changed");
    qk_service s;
    cr_assert_eq(qk_service_find(t, "copied", &s), QK_OK);
    cr_assert_str_eq(peek(t, s).name, "copied");
    qk_tracker_free(t);
}

Test(api, name_of_63_characters_is_accepted)
{
    char name[64];
    memset(name, 'a', 63);
    name[63] = '\0';
    name[0] = 'Z';
    name[1] = '9';
    name[2] = '_';
    name[3] = '.';
    name[4] = '-';
    qk_tracker *t = two_services();
    qk_service_def d = qkt_svc_def(name, QK_DAY, 10, QK_MINUTE, 0);
    qk_service s = 99;
    cr_assert_eq(qk_service_add(t, &d, &s), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(s, 2);
    cr_assert_str_eq(peek(t, s).name, name);
    qk_service f;
    cr_assert_eq(qk_service_find(t, name, &f), QK_OK);
    cr_assert_eq(f, s);
    qk_tracker_free(t);
}

/* ---- bad input: specific code, nothing changed ---- */

/* Runs `call`, which must return `code` and leave the tracker's state and events unchanged,
 * with qk_errmsg() mentioning `needle`. */
#define expect_fail(t, code, needle, call)                                                         \
    do {                                                                                           \
        const fingerprint before_ = take_fp(t);                                                    \
        const size_t events_ = qkt_evrec_count(&log_);                                             \
        const int rc_ = (call);                                                                    \
        cr_assert_eq(rc_, (code), "%s returned %d (%s), expected %d", #call, rc_,                  \
                     qk_strerror(rc_), (code));                                                    \
        assert_errmsg_has(needle);                                                                 \
        const fingerprint after_ = take_fp(t);                                                     \
        assert_fp_eq(&before_, &after_, #call);                                                    \
        cr_assert_eq(qkt_evrec_count(&log_), events_, "%s delivered an event", #call);             \
    } while (0)

Test(api, null_pointers)
{
    qk_tracker *t = two_services();
    qk_usage u;
    size_t n = 0;
    qk_service s = 77;
    const qk_service_def d = qkt_svc_def("new", QK_DAY, 10, QK_MINUTE, 0);
    expect_fail(t, QK_EINVAL, "NULL", qk_record(NULL, 0, 1, &u));
    expect_fail(t, QK_EINVAL, "NULL", qk_try_consume(NULL, 0, 1, 0, &u));
    expect_fail(t, QK_EINVAL, "NULL", qk_refund(NULL, 0, 1));
    expect_fail(t, QK_EINVAL, "NULL", qk_peek(NULL, 0, &u));
    expect_fail(t, QK_EINVAL, "out", qk_peek(t, 0, NULL));
    expect_fail(t, QK_EINVAL, "NULL", qk_set_used(NULL, 0, 0, 1));
    expect_fail(t, QK_EINVAL, "NULL", qk_reset(NULL, 0));
    expect_fail(t, QK_EINVAL, "NULL", qk_reset_all(NULL));
    expect_fail(t, QK_EINVAL, "tracker", qk_snapshot(NULL, &u, 1, &n));
    expect_fail(t, QK_EINVAL, "count", qk_snapshot(t, &u, 1, NULL));
    expect_fail(t, QK_EINVAL, "out", qk_snapshot(t, NULL, 3, &n));
    expect_fail(t, QK_EINVAL, "tracker", qk_service_add(NULL, &d, &s));
    expect_fail(t, QK_EINVAL, "definition", qk_service_add(t, NULL, &s));
    expect_fail(t, QK_EINVAL, "tracker", qk_service_find(NULL, "tiingo", &s));
    expect_fail(t, QK_EINVAL, "name", qk_service_find(t, NULL, &s));
    expect_fail(t, QK_EINVAL, "out", qk_service_find(t, "tiingo", NULL));
    cr_assert_eq(s, 77, "out written on error");
    cr_assert_eq(n, 0, "count written on error");
    cr_assert_eq(qk_service_count(NULL), 0);
    qk_service_def noname = d;
    noname.name = NULL;
    expect_fail(t, QK_EINVAL, "NULL", qk_service_add(t, &noname, &s));
    qk_tracker_free(t);
}

/* Fills an out-parameter with 0xA5 bytes, to see whether a failing call writes to it. */
static void poison(qk_usage *u)
{
    memset(u, 0xA5, sizeof *u);
}

static void assert_untouched(const qk_usage *u)
{
    qk_usage copy;
    poison(&copy);
    cr_assert_eq(memcmp(u, &copy, sizeof *u), 0, "out written on error");
}

Test(api, unknown_service)
{
    qk_tracker *t = two_services(); /* capacity 4: slot 2 exists but is not registered */
    qk_usage u;
    poison(&u);
    const qk_service bad[] = {2, 3, 4, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char idx[24];
        snprintf(idx, sizeof idx, "%u", bad[i]);
        expect_fail(t, QK_ENOENT, idx, qk_record(t, bad[i], 1, &u));
        expect_fail(t, QK_ENOENT, idx, qk_try_consume(t, bad[i], 1, 0, &u));
        expect_fail(t, QK_ENOENT, idx, qk_try_consume(t, bad[i], 1, QK_PRIORITY, NULL));
        expect_fail(t, QK_ENOENT, idx, qk_refund(t, bad[i], 1));
        expect_fail(t, QK_ENOENT, idx, qk_peek(t, bad[i], &u));
        expect_fail(t, QK_ENOENT, idx, qk_set_used(t, bad[i], 0, 5));
        expect_fail(t, QK_ENOENT, idx, qk_reset(t, bad[i]));
    }
    assert_untouched(&u);
    qk_service s = 42;
    expect_fail(t, QK_ENOENT, "sendgrid", qk_service_find(t, "sendgrid", &s));
    expect_fail(t, QK_ENOENT, "tiing", qk_service_find(t, "tiing", &s));
    expect_fail(t, QK_ENOENT, "TIINGO", qk_service_find(t, "TIINGO", &s));
    expect_fail(t, QK_ENOENT, "", qk_service_find(t, "", &s));
    cr_assert_eq(s, 42);
    qk_tracker_free(t);
}

Test(api, zero_calls)
{
    qk_tracker *t = two_services();
    qk_usage u;
    poison(&u);
    expect_fail(t, QK_EINVAL, "n must be", qk_record(t, 0, 0, &u));
    expect_fail(t, QK_EINVAL, "n must be", qk_try_consume(t, 0, 0, 0, &u));
    expect_fail(t, QK_EINVAL, "n must be", qk_try_consume(t, 1, 0, QK_PRIORITY, &u));
    expect_fail(t, QK_EINVAL, "n must be", qk_refund(t, 0, 0));
    assert_untouched(&u);
    qk_tracker_free(t);
}

Test(api, count_overflow_is_erange)
{
    qk_tracker *t = two_services();
    qk_usage u;
    poison(&u);
    /* finnhub: minute 7, day 7. */
    expect_fail(t, QK_ERANGE, "overflow", qk_record(t, 1, UINT64_MAX, &u));
    expect_fail(t, QK_ERANGE, "finnhub", qk_record(t, 1, UINT64_MAX - 6, &u));
    assert_untouched(&u);
    cr_assert_eq(qk_record(t, 1, UINT64_MAX - 7, &u), QK_OK, "exactly UINT64_MAX fits");
    cr_assert_eq(u.windows[0].used, UINT64_MAX);
    cr_assert_eq(u.windows[1].used, UINT64_MAX);
    cr_assert_eq(u.level, QK_LEVEL_EXHAUSTED);
    expect_fail(t, QK_ERANGE, "overflow", qk_record(t, 1, 1, NULL));
    /* Only one window full: still nothing counted anywhere. */
    cr_assert_eq(qk_set_used(t, 1, 0, 3), QK_OK);
    expect_fail(t, QK_ERANGE, "overflow", qk_record(t, 1, 1, &u));
    cr_assert_eq(used_of(t, 1, 0), 3);
    cr_assert_eq(used_of(t, 1, 1), UINT64_MAX);
    /* A consume that cannot fit is a refusal, not an overflow. */
    cr_assert_eq(qk_try_consume(t, 0, UINT64_MAX, QK_PRIORITY, &u), QK_ELIMIT);
    qk_tracker_free(t);
}

Test(api, unknown_flag_bits)
{
    qk_tracker *t = two_services();
    expect_fail(t, QK_EINVAL, "flag", qk_try_consume(t, 0, 1, 2u, NULL));
    expect_fail(t, QK_EINVAL, "0x80000000", qk_try_consume(t, 0, 1, 0x80000000u, NULL));
    expect_fail(t, QK_EINVAL, "0x4", qk_try_consume(t, 0, 1, QK_PRIORITY | 4u, NULL));
    qk_tracker_free(t);
}

Test(api, set_used_window_out_of_range)
{
    qk_tracker *t = two_services();
    expect_fail(t, QK_EINVAL, "window 1", qk_set_used(t, 0, 1, 5)); /* tiingo has 1 window */
    expect_fail(t, QK_EINVAL, "window 2", qk_set_used(t, 1, 2, 5)); /* finnhub has 2 */
    expect_fail(t, QK_EINVAL, "window 4", qk_set_used(t, 1, QK_MAX_WINDOWS, 5));
    expect_fail(t, QK_EINVAL, "window 4294967295", qk_set_used(t, 1, UINT_MAX, 5));
    qk_tracker_free(t);
}

Test(api, snapshot_buffer_too_small)
{
    qk_tracker *t = two_services();
    qk_usage u[2];
    memset(u, 0xA5, sizeof u);
    qk_usage copy[2];
    memcpy(copy, u, sizeof u);
    size_t n = 0;
    expect_fail(t, QK_ERANGE, "2 services", qk_snapshot(t, u, 1, &n));
    cr_assert_eq(n, 2, "*count is the number needed");
    cr_assert_eq(memcmp(u, copy, sizeof u), 0, "out written on error");
    n = 0;
    expect_fail(t, QK_ERANGE, "2 services", qk_snapshot(t, NULL, 0, &n));
    cr_assert_eq(n, 2, "a size query");
    n = 0;
    cr_assert_eq(qk_snapshot(t, u, 2, &n), QK_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(u[0].name, "tiingo");
    cr_assert_str_eq(u[1].name, "finnhub");
    cr_assert_eq(u[0].windows[0].used, 260);
    cr_assert_eq(u[1].windows[1].used, 7);
    qk_tracker_free(t);
}

/* ---- bad service definitions, through qk_service_add and qk_tracker_new ---- */

/* Adds def, which must fail with code, name the problem, and register nothing. */
static void bad_def(const qk_service_def *def, int code, const char *needle)
{
    qk_tracker *t = two_services();
    qk_service s = 55;
    expect_fail(t, code, needle, qk_service_add(t, def, &s));
    cr_assert_eq(s, 55, "out written on error");
    cr_assert_eq(qk_service_count(t), 2);
    if (def->name != NULL && strcmp(def->name, "tiingo") != 0) {
        qk_service f = 66;
        cr_assert_eq(qk_service_find(t, def->name, &f), QK_ENOENT, "'%s' was registered",
                     def->name);
        cr_assert_eq(f, 66);
    }
    qk_tracker_free(t);
    if (code == QK_EEXIST)
        return; /* a duplicate needs its twin in the same list: see duplicate_name */

    /* The same definition in qk_tracker_new's list, after a good one: no tracker. */
    qk_service_def defs[2] = {qkt_svc_def("good", QK_DAY, 10, QK_MINUTE, 0), *def};
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = 2;
    qk_tracker *sentinel = (qk_tracker *)&o, *out = sentinel;
    cr_assert_eq(qk_tracker_new(&out, &o), code, "qk_tracker_new: %s", qk_errmsg());
    assert_errmsg_has(needle);
    cr_assert_eq(out, sentinel, "*out written on error");
}

static qk_service_def good(void)
{
    return qkt_svc_def("newsvc", QK_MINUTE, 60, QK_DAY, 1000);
}

Test(api, empty_name)
{
    qk_service_def d = good();
    d.name = "";
    bad_def(&d, QK_EINVAL, "empty");
}

Test(api, name_of_64_characters_is_refused)
{
    char name[65];
    memset(name, 'a', 64);
    name[64] = '\0';
    qk_service_def d = good();
    d.name = name;
    bad_def(&d, QK_EINVAL, "longer than 63");
    char longer[300];
    memset(longer, 'b', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    d.name = longer;
    bad_def(&d, QK_EINVAL, "longer than 63");
}

Test(api, duplicate_name)
{
    qk_service_def d = good();
    d.name = "tiingo";
    bad_def(&d, QK_EEXIST, "tiingo");
    /* Names are case-sensitive: "Tiingo" is another service. */
    qk_tracker *t = two_services();
    d.name = "Tiingo";
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK);
    qk_tracker_free(t);
    /* Duplicates within qk_tracker_new's own list. */
    qk_service_def defs[3] = {good(), qkt_svc_def("other", QK_DAY, 5, QK_MINUTE, 0), good()};
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = 3;
    qk_tracker *out = NULL;
    cr_assert_eq(qk_tracker_new(&out, &o), QK_EEXIST);
    assert_errmsg_has("newsvc");
    cr_assert_null(out);
}

Test(api, names_outside_the_allowed_characters)
{
    static const char *const bad[] = {"has space", "slash/",      "tab\there", "semi;colon",
                                      "quote'",    "caf\xc3\xa9", "star*",     "colon:x",
                                      "plus+",     "at@",         "new\nline", "pct%s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qk_service_def d = good();
        d.name = bad[i];
        bad_def(&d, QK_EINVAL, "outside [A-Za-z0-9_.-]");
    }
}

Test(api, no_windows)
{
    qk_service_def d = good();
    memset(d.windows, 0, sizeof d.windows);
    bad_def(&d, QK_EINVAL, "no windows");
}

Test(api, window_after_the_end_of_the_list)
{
    qk_service_def d = good();
    d.windows[1].limit = 0;
    d.windows[2].period = QK_DAY;
    d.windows[2].limit = 100;
    bad_def(&d, QK_EINVAL, "window 2");
    d = good();
    d.windows[0].limit = 0; /* reported as "no windows" or as window 1 after the end */
    bad_def(&d, QK_EINVAL, "newsvc");
    d = good();
    d.windows[2].limit = 0;
    d.windows[3].period = QK_HOUR;
    d.windows[3].limit = 5;
    bad_def(&d, QK_EINVAL, "window 3");
}

Test(api, four_windows_is_the_most)
{
    qk_tracker *t = two_services();
    qk_service_def d = good();
    d.windows[2].period = QK_MONTH;
    d.windows[2].limit = 10000;
    d.windows[3].period = QK_FOREVER;
    d.windows[3].limit = 100000;
    qk_service s;
    cr_assert_eq(qk_service_add(t, &d, &s), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(peek(t, s).n_windows, 4);
    qk_tracker_free(t);
}

Test(api, unknown_period)
{
    qk_service_def d = good();
    d.windows[1].period = (qk_period)7;
    bad_def(&d, QK_EINVAL, "period 7");
    d.windows[1].period = (qk_period)-1;
    bad_def(&d, QK_EINVAL, "period -1");
}

Test(api, unknown_outage_policy)
{
    qk_service_def d = good();
    d.outage = (qk_outage)3;
    bad_def(&d, QK_EINVAL, "unknown outage policy 3");
    d.outage = (qk_outage)-1;
    bad_def(&d, QK_EINVAL, "unknown outage policy -1");
    d.outage = QK_OUTAGE_OPEN; /* each known one is accepted, with any lease_max */
    d.lease_max = 1;
    qk_tracker *t = new_tracker(NULL, 0, 1, NULL, NULL);
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
}

Test(api, warn_above_critical)
{
    qk_service_def d = good();
    d.warn_pct = 81;
    d.critical_pct = 80;
    bad_def(&d, QK_EINVAL, "warn 81% is above critical 80%");
    /* The defaults count: warn 0 means 50, above an explicit critical of 40. (Judgment call
     * following the header: pct 0 means the default, then the comparison applies.) */
    d.warn_pct = 0;
    d.critical_pct = 40;
    bad_def(&d, QK_EINVAL, "warn 50% is above critical 40%");
    d.warn_pct = 90;
    d.critical_pct = 0; /* 80 */
    bad_def(&d, QK_EINVAL, "warn 90% is above critical 80%");
    /* Equal is allowed. */
    qk_tracker *t = two_services();
    d.warn_pct = 70;
    d.critical_pct = 70;
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
}

Test(api, pct_above_100)
{
    qk_service_def d = good();
    d.critical_pct = 101;
    bad_def(&d, QK_EINVAL, "above 100%");
    d.critical_pct = 255;
    bad_def(&d, QK_EINVAL, "above 100%");
    d.critical_pct = 100;
    d.warn_pct = 101;
    bad_def(&d, QK_EINVAL, "above 100%");
    qk_tracker *t = two_services();
    d.warn_pct = 100;
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK, "100% is allowed: %s", qk_errmsg());
    qk_tracker_free(t);
}

Test(api, reserve_not_below_every_limit)
{
    qk_service_def d = good(); /* 60/minute, 1000/day */
    d.reserve = 60;
    bad_def(&d, QK_EINVAL, "reserve 60 is not below window 0's limit 60");
    d.reserve = 1000;
    bad_def(&d, QK_EINVAL, "reserve 1000");
    d.windows[0].limit = 2000; /* now the day window (1000) is the smaller */
    d.reserve = 1000;
    bad_def(&d, QK_EINVAL, "window 1's limit 1000");
    qk_tracker *t = two_services();
    d.reserve = 999;
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK, "reserve one below: %s", qk_errmsg());
    qk_tracker_free(t);
}

Test(api, capacity_full)
{
    qk_tracker *t = two_services(); /* capacity 4 */
    qk_service_def d = good();
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK);
    d.name = "four";
    cr_assert_eq(qk_service_add(t, &d, NULL), QK_OK);
    d.name = "five";
    qk_service s = 9;
    expect_fail(t, QK_EFULL, "five", qk_service_add(t, &d, &s));
    assert_errmsg_has("4 slots");
    cr_assert_eq(s, 9);
    cr_assert_eq(qk_service_count(t), 4);
    cr_assert_eq(qk_service_find(t, "five", &s), QK_ENOENT);
    qk_tracker_free(t);

    /* capacity 0 means n_services: full from the start. */
    qk_service_def one = good();
    qk_tracker *u = new_tracker(&one, 1, 0, &clk, NULL);
    d.name = "two";
    cr_assert_eq(qk_service_add(u, &d, NULL), QK_EFULL);
    assert_errmsg_has("1 slots");
    cr_assert_eq(qk_service_count(u), 1);
    qk_tracker_free(u);
}

/* ---- bad options ---- */

static void bad_options(const qk_options *o, const char *needle)
{
    qk_tracker *sentinel = (qk_tracker *)&sentinel, *out = sentinel;
    cr_assert_eq(qk_tracker_new(&out, o), QK_EINVAL, "%s", qk_errmsg());
    assert_errmsg_has(needle);
    cr_assert_eq(out, sentinel, "*out written on error");
}

Test(api, bad_options)
{
    qk_service_def defs[2] = {good(), qkt_svc_def("other", QK_DAY, 5, QK_MINUTE, 0)};
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = 2;

    qk_tracker *t = NULL;
    cr_assert_eq(qk_tracker_new(NULL, &o), QK_EINVAL);
    assert_errmsg_has("out");
    cr_assert_eq(qk_tracker_new(&t, NULL), QK_EINVAL);
    assert_errmsg_has("options");
    cr_assert_null(t);

    qk_options v = o;
    v.version = 0;
    bad_options(&v, "version 0");
    v.version = QK_OPTIONS_VERSION + 1;
    char needle[32];
    snprintf(needle, sizeof needle, "version %d", QK_OPTIONS_VERSION + 1);
    bad_options(&v, needle);
    v.version = 1000;
    bad_options(&v, "version 1000");

    qk_options c = o;
    c.services = NULL;
    bad_options(&c, "services is NULL");

    c = o;
    c.capacity = 1;
    bad_options(&c, "capacity 1 is below n_services 2");

    c = o;
    c.n_services = 0;
    c.capacity = 0;
    bad_options(&c, "capacity is 0");

    c = o;
    c.capacity = SIZE_MAX;
    bad_options(&c, "above the maximum");

    /* Version 3: flags, the read-only combinations, the store. */
    c = o;
    c.flags = 0x10;
    bad_options(&c, "unknown flag bits 0x10");
    c = o;
    c.flags = QK_OPEN_READONLY;
    bad_options(&c, "needs a state file");
    c.path = "/nonexistent/never-created.qkstate";
    bad_options(&c, "n_services must be 0");
    c.n_services = 0;
    c.store = "redis://127.0.0.1";
    bad_options(&c, "cannot attach a store");
    c = o;
    c.store_timeout_ms = -1;
    bad_options(&c, "store_timeout_ms -1 is negative");
    c = o;
    c.store = "no-scheme-here";
    bad_options(&c, "expected scheme://");
    /* A well-formed URL of a scheme no backend serves is refused at open, not later. */
    c.store = "memcached://127.0.0.1:11211";
    bad_options(&c, "no backend for scheme 'memcached'");
    /* What the Redis backend needs is checked at open too; an unreachable server is not. */
    c.store = "redis://";
    bad_options(&c, "needs a host");
    c.store = "redis://127.0.0.1/zero";
    bad_options(&c, "database 'zero' is not a number");
    c.store = "redis+unix://host/run/r.sock";
    bad_options(&c, "no host and an absolute socket path");
    c = o;
    c.services = NULL;
    c.n_services = 0;
    c.capacity = 1;
    c.flags = QK_OPEN_READONLY;
    c.path = "/nonexistent/never-created.qkstate";
    t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &c), QK_EIO, "a read-only open never creates");
    assert_errmsg_has("No such file");
    cr_assert_null(t);

    /* capacity == n_services and capacity 0 (= n_services) both work. */
    c = o;
    c.capacity = 2;
    cr_assert_eq(qk_tracker_new(&t, &c), QK_OK);
    qk_tracker_free(t);
    c.capacity = 0;
    t = NULL;
    cr_assert_eq(qk_tracker_new(&t, &c), QK_OK);
    cr_assert_eq(qk_service_count(t), 2);
    qk_tracker_free(t);
}

/* ---- qk_errmsg is per thread ---- */

static void *fail_in_thread(void *arg)
{
    (void)arg;
    qk_record(NULL, 0, 1, NULL);
    return NULL;
}

/* Catches: a process-wide message buffer, where thread B's failure rewrites A's message. */
Test(api, errmsg_is_per_thread, .timeout = 60)
{
    qk_tracker *t = two_services();
    cr_assert_eq(qk_set_used(t, 0, 3, 1), QK_EINVAL);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", qk_errmsg());
    cr_assert_not_null(strstr(mine, "window 3"));
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fail_in_thread, NULL), 0);
    pthread_join(th, NULL);
    cr_assert_str_eq(qk_errmsg(), mine);
    qk_tracker_free(t);
}

Test(api, errmsg_starts_with_strerror)
{
    qk_tracker *t = two_services();
    cr_assert_eq(qk_peek(t, 9, &(qk_usage){0}), QK_ENOENT);
    const char *m = qk_errmsg();
    cr_assert_eq(strncmp(m, qk_strerror(QK_ENOENT), strlen(qk_strerror(QK_ENOENT))), 0, "%s", m);
    qk_tracker_free(t);
}

/* ---- strings ---- */

Test(api, strerror_for_every_code)
{
    static const struct {
        int code;
        const char *msg;
    } table[] = {
        {QK_OK, "success"},
        {QK_EINVAL, "invalid argument"},
        {QK_ENOENT, "unknown service"},
        {QK_EEXIST, "a service with that name already exists"},
        {QK_ENOMEM, "out of memory"},
        {QK_ELIMIT, "the quota would be exceeded"},
        {QK_EFULL, "no room for another service"},
        {QK_ERANGE, "value out of range or buffer too small"},
        {QK_EIO, "input/output error"},
        {QK_ECORRUPT, "state is corrupt or of a foreign format"},
        {QK_EUNAVAIL, "the shared store cannot be reached"},
        {QK_EREADONLY, "the tracker was opened read-only"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *s = qk_strerror(table[i].code);
        cr_assert_not_null(s);
        cr_assert_str_eq(s, table[i].msg, "code %d", table[i].code);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(s, qk_strerror(table[j].code), "codes %d and %d share a message",
                              table[i].code, table[j].code);
    }
    const int unknown[] = {1, -12, 42, -100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        cr_assert_str_eq(qk_strerror(unknown[i]), "unknown error", "code %d", unknown[i]);
}

Test(api, level_names)
{
    cr_assert_str_eq(qk_level_name(QK_LEVEL_OK), "ok");
    cr_assert_str_eq(qk_level_name(QK_LEVEL_WARN), "warn");
    cr_assert_str_eq(qk_level_name(QK_LEVEL_CRITICAL), "critical");
    cr_assert_str_eq(qk_level_name(QK_LEVEL_EXHAUSTED), "exhausted");
    cr_assert_str_eq(qk_level_name((qk_level)4), "unknown");
    cr_assert_str_eq(qk_level_name((qk_level)-1), "unknown");
}

Test(api, version_string)
{
    cr_assert_str_eq(qk_version_string(), QK_VERSION_STRING);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", QK_VERSION_MAJOR, QK_VERSION_MINOR, QK_VERSION_PATCH);
    cr_assert_str_eq(qk_version_string(), v);
}

Test(api, version_number)
{
    cr_assert_eq(qk_version(), (unsigned)QK_VERSION_HEX, "the library is the one compiled against");
    cr_assert_eq(QK_VERSION_HEX,
                 (QK_VERSION_MAJOR << 16) | (QK_VERSION_MINOR << 8) | QK_VERSION_PATCH);
    cr_assert(QK_VERSION_AT_LEAST(QK_VERSION_MAJOR, QK_VERSION_MINOR, QK_VERSION_PATCH));
    cr_assert(QK_VERSION_AT_LEAST(0, 0, 0));
    cr_assert(!QK_VERSION_AT_LEAST(QK_VERSION_MAJOR, QK_VERSION_MINOR, QK_VERSION_PATCH + 1));
    cr_assert(!QK_VERSION_AT_LEAST(QK_VERSION_MAJOR + 1, 0, 0));
    /* Minor and patch never carry into the next field. */
    cr_assert_lt(QK_VERSION_MINOR, 256);
    cr_assert_lt(QK_VERSION_PATCH, 256);
}

/* Names are part of the contract (qkctl's JSON, bindings): each is the code's enum name. */
Test(api, err_name_for_every_code)
{
    static const struct {
        int code;
        const char *name;
    } table[] = {
        {QK_OK, "QK_OK"},
        {QK_EINVAL, "QK_EINVAL"},
        {QK_ENOENT, "QK_ENOENT"},
        {QK_EEXIST, "QK_EEXIST"},
        {QK_ENOMEM, "QK_ENOMEM"},
        {QK_ELIMIT, "QK_ELIMIT"},
        {QK_EFULL, "QK_EFULL"},
        {QK_ERANGE, "QK_ERANGE"},
        {QK_EIO, "QK_EIO"},
        {QK_ECORRUPT, "QK_ECORRUPT"},
        {QK_EUNAVAIL, "QK_EUNAVAIL"},
        {QK_EREADONLY, "QK_EREADONLY"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_assert_str_eq(qk_err_name(table[i].code), table[i].name, "code %d", table[i].code);
    const int unknown[] = {1, -12, 42, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        cr_assert_str_eq(qk_err_name(unknown[i]), "unknown", "code %d", unknown[i]);
}
