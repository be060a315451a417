/* Every mistake a config file can hold is refused with QK_EINVAL, names the right line of the
 * right file, says what was wrong, and leaves *out untouched. */
#include <stdio.h>

#include "config_test.h"

typedef struct {
    const char *text;
    unsigned line;        /* the line the message must name */
    const char *fragment; /* what it must say */
} bad_file;

static const bad_file cases[] = {
    /* sections */
    {"[bogus]\nx = 1\n", 1, "unknown section [bogus]"},
    {"[service a]\nminute = 5\n\n[Service b]\nminute = 1\n", 4, "unknown section [Service b]"},
    {"minute = 5\n[service a]\nhour = 1\n", 1, "key 'minute' is outside any section"},
    {"[service a]\nminute = 5\n[service b]\nhour = 1\n[service a]\nday = 9\n", 5,
     "duplicate service 'a' (first at line 1)"},
    {"[quotakeeper]\nstate = a\n[quotakeeper]\nstore_timeout_ms = 5\n", 3,
     "duplicate section [quotakeeper] (first at line 1)"},
    {"[service a]\nminute = 1\n[service b]\n; nothing here\n\n[service c]\nhour = 1\n", 3,
     "section [service b] is empty"},
    {"[service a]\nminute = 1\n[service b]\n", 3, "section [service b] is empty"},
    {"[service a]\nwarn = 10\n", 1, "[service a] has no window"},
    {"[service a]\nminute = 1\njust words\n", 3, "libinih cannot parse this line"},
    {"[service a\nminute = 1\n", 1, "libinih cannot parse this line"},
    {"[service a]\nminute\n", 2, "libinih cannot parse this line"},
    /* the earliest problem wins, whether libinih or the handler found it */
    {"[service a]\nminute 1\nhour = -1\n", 2, "libinih cannot parse this line"},
    {"[service a]\nhour = -1\nminute 1\n", 2, "hour = '-1': negative"},
    {"[service a]\nminute = 10\nreserve = 10\nbad line\n[service b]\nhour = 1\n", 3,
     "reserve = 10 is not below minute = 10 (line 2)"},
    /* service names */
    {"[service a b]\nminute = 1\n", 1, "service name 'a b' has a character outside"},
    {"[service a/b]\nminute = 1\n", 1, "service name 'a/b' has a character outside"},
    {"[service]\nminute = 1\n", 1, "a service section needs a name"},
    {"[service ]\nminute = 1\n", 1, "a service section needs a name"},
    {"[service aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\nminute = 1\n", 1,
     "section name longer than the"},
    /* keys */
    {"[service a]\nminutes = 60\n", 2, "unknown key 'minutes' in [service a]"},
    {"[service a]\nfortnight = 1\n", 2, "unknown key 'fortnight' in [service a]"},
    {"[quotakeeper]\npath = x\n", 2, "unknown key 'path' in [quotakeeper]"},
    {"[service a]\nminute = 5\nhour = 9\nminute = 6\n", 4,
     "duplicate key 'minute' in [service a] (first at line 2)"},
    {"[service a]\nminute = 5\nwarn = 10\nwarn = 20\n", 4,
     "duplicate key 'warn' in [service a] (first at line 3)"},
    {"[quotakeeper]\nstate = a\nstate = b\n", 3,
     "duplicate key 'state' in [quotakeeper] (first at line 2)"},
    /* numbers */
    {"[service a]\nminute = -5\n", 2, "minute = '-5': negative"},
    {"[service a]\nminute = 18446744073709551616\n", 2, "too large"},
    {"[service a]\nminute = 18446744073709551615\nhour = 1\nday = 60x\n", 4,
     "day = '60x': not a whole number"},
    {"[service a]\nminute =\n", 2, "minute = '': no value"},
    {"[service a]\nminute = +5\n", 2, "not a whole number"},
    {"[service a]\nminute = 1.5\n", 2, "not a whole number"},
    {"[service a]\nminute = 0x10\n", 2, "not a whole number"},
    {"[service a]\nminute = 60 # a minute\n", 2, "not a whole number"}, /* # only starts a line */
    {"[service a]\nminute = 10\nreserve = -1\n", 3, "reserve = '-1': negative"},
    {"[service a]\nminute = 10\nlease_max = many\n", 3, "lease_max = 'many'"},
    {"[quotakeeper]\nstore_timeout_ms = 9223372036854775808\n", 2, "too large"},
    /* limits, thresholds, reserve */
    {"[service a]\nhour = 10\nday = 0\n", 3, "day = '0': a limit of 0"},
    {"[service a]\nminute = 1\nhour = 2\nday = 3\nmonth = 4\nforever = 5\n", 6,
     "forever: more than 4 windows"},
    {"[service a]\nminute = 10\ncritical = 60\nwarn = 70\n", 4,
     "warn = 70 is above critical = 60 (line 3)"},
    {"[service a]\nminute = 10\nwarn = 70\ncritical = 60\n", 3,
     "warn = 70 is above critical = 60 (line 4)"},
    {"[service a]\nminute = 10\nwarn = 90\n", 3, "warn = 90 is above critical, 80 when not given"},
    {"[service a]\nminute = 10\ncritical = 40\n", 3,
     "critical = 40 is below warn, 50 when not given"},
    {"[service a]\nminute = 10\ncritical = 101\n", 3, "critical = '101': a percentage above 100"},
    {"[service a]\nminute = 10\nwarn = 0\n", 3, "warn = '0': a percentage from 1 to 100"},
    {"[service a]\nminute = 100\nreserve = 10\nday = 10\n", 3,
     "reserve = 10 is not below day = 10 (line 4)"},
    {"[service a]\nreserve = 11\nhour = 10\n", 2, "reserve = 11 is not below hour = 10 (line 3)"},
    /* window shapes (docs/config.md, "Windows") */
    {"[service a]\n15 fortnights = 9\n", 2, "15 fortnights: unknown unit 'fortnights'"},
    {"[service a]\n0 minutes = 9\n", 2, "0 minutes: a window of 0 minutes (every must be 1"},
    {"[service a]\nevery minute = 9\n", 2, "every minute: 'every' needs a count"},
    {"[service a]\n15 minutes extra = 9\n", 2, "a window key is [rolling] [N] UNIT"},
    {"[service a]\n2 forever = 9\n", 2, "2 forever: forever has no length to repeat"},
    {"[service a]\n15 minutes = 9\nevery 15 minutes = 8\n", 3,
     "duplicate key 'every 15 minutes' in [service a] (first at line 2)"},
    {"[service a]\nday = 9\nday = 8 @ 07:00\n", 3,
     "duplicate key 'day' in [service a] (first at line 2)"},
    {"[service a]\nhour = 10 @ :60\n", 2, "hour = '10 @ :60': bad time ':60'"},
    {"[service a]\nday = 10 @ 24:00\n", 2, "bad time '24:00'"},
    {"[service a]\nday = 10 @ 7am\n", 2, "bad time '7am'"},
    {"[service a]\nhour = 10 @ 07:00\n", 2,
     "hour = '10 @ 07:00': the offset (25200 s) is not below the window's length (3600 s)"},
    {"[service a]\n15 minutes = 10 @ :15\n", 2, "the offset (900 s) is not below"},
    {"[service a]\nday = 10 @ wed 09:00\n", 2, "a weekday offset is for week windows"},
    {"[service a]\nweek = 10 @ 5th\n", 2, "a day-of-month offset is for month windows"},
    {"[service a]\nmonth = 10 @ 29th\n", 2, "day 29 of the month: an offset goes up to the 28th"},
    {"[service a]\nmonth = 10 @ day 0\n", 2, "'day 0' is no day of the month"},
    {"[service a]\nmonth = 10 @ 5th 07:00 x\n", 2, "unexpected 'x' after the offset"},
    {"[service a]\nforever = 10 @ 07:00\n", 2, "an offset on forever"},
    {"[service a]\nday = 10 @\n", 2, "'@' needs an offset"},
    {"[service a]\nday = 10 tz\n", 2, "'tz' needs a zone"},
    {"[service a]\nday = 10 tz UTC @ 07:00\n", 2, "'tz ZONE' goes last"},
    {"[service a]\nday = 10 @ 07:00 @ 08:00\n", 2, "unexpected '@' after the offset"},
    {"[service a]\nday = x @ 07:00\n", 2, "day = 'x @ 07:00': not a whole number"},
    /* parsed and passed on: the core of this build refuses them, at the window's line */
    {"[service a]\nminute = 5\nrolling month = 60\n", 3,
     "rolling month: invalid argument: service 'a': window 1: a rolling window of QK_MONTH"},
    {"[service a]\nday = 10000 tz Mars/Olympus\n", 2,
     "day: invalid argument: service 'a': window 0: unknown time zone \"Mars/Olympus\""},
    {"[service a]\nminute = 10 tz UTC\n", 2,
     "minute: invalid argument: service 'a': window 0: tz on QK_MINUTE"},
    {"[service a]\nrolling month = 10\n", 2, "a rolling window of QK_MONTH"},
    /* the other per-service and [quotakeeper] values */
    {"[service a]\nminute = 1\noutage = sometimes\n", 3,
     "outage = 'sometimes': unknown outage policy"},
    {"[quotakeeper]\nstate =\n", 2, "state = '': no value"},
    {"[quotakeeper]\nstore = ; no URL\n", 2, "store = '': no value"},
};

Test(config_errors, every_error_names_its_line_and_leaves_out_untouched, .init = config_setup,
     .fini = config_teardown)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[PATH_MAX], name[32], want[PATH_MAX + 32];
        snprintf(name, sizeof name, "case%zu.ini", i);
        write_ini(path, name, cases[i].text);
        qk_config *const untouched = (qk_config *)&cases[i];
        qk_config *cfg = untouched;
        const int rc = qk_config_load(&cfg, path);
        const char *msg = qk_config_errmsg();
        cr_expect_eq(rc, QK_EINVAL, "case %zu: rc %d (%s)", i, rc, msg);
        cr_expect_eq(cfg, untouched, "case %zu: *out changed", i);
        snprintf(want, sizeof want, "%s:%u: ", path, cases[i].line);
        cr_expect_eq(strncmp(msg, want, strlen(want)), 0, "case %zu: '%s' does not start '%s'", i,
                     msg, want);
        cr_expect_not_null(strstr(msg, cases[i].fragment), "case %zu: '%s' does not say '%s'", i,
                           msg, cases[i].fragment);
        if (rc == QK_OK)
            qk_config_free(cfg);
    }
}

Test(config_errors, a_line_longer_than_libinih_reads, .init = config_setup, .fini = config_teardown)
{
    char text[1024] = "[service a]\nminute = 1\n; ";
    memset(text + strlen(text), 'x', 600);
    char path[PATH_MAX];
    write_ini(path, "long.ini", text);
    qk_config *cfg = NULL;
    cr_assert_eq(qk_config_load(&cfg, path), QK_EINVAL);
    cr_assert_null(cfg);
    cr_assert_not_null(strstr(qk_config_errmsg(), ":3: line is longer than"), "%s",
                       qk_config_errmsg());
}

Test(config_errors, a_missing_file, .init = config_setup, .fini = config_teardown)
{
    char path[PATH_MAX];
    qkt_path(path, test_dir, "absent.ini");
    qk_config *cfg = NULL;
    cr_assert_eq(qk_config_load(&cfg, path), QK_EIO);
    cr_assert_null(cfg);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    cr_assert_str_eq(qk_config_errmsg(), want);
}

Test(config_errors, a_directory_as_the_file, .init = config_setup, .fini = config_teardown)
{
    qk_config *cfg = NULL;
    cr_assert_eq(qk_config_load(&cfg, test_dir), QK_EIO);
    cr_assert_null(cfg);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", test_dir);
    cr_assert_str_eq(qk_config_errmsg(), want);
}

Test(config_errors, null_arguments)
{
    qk_config *cfg = NULL;
    cr_assert_eq(qk_config_load(NULL, "x.ini"), QK_EINVAL);
    cr_assert_str_eq(qk_config_errmsg(), "qk_config_load: out is NULL");
    cr_assert_eq(qk_config_load(&cfg, NULL), QK_EINVAL);
    cr_assert_str_eq(qk_config_errmsg(), "qk_config_load: path is NULL");
    cr_assert_null(cfg);
}

static void *errmsg_in_thread(void *arg)
{
    (void)arg;
    return (void *)qk_config_errmsg();
}

Test(config_errors, the_message_is_per_thread)
{
    qk_config *cfg = NULL;
    cr_assert_eq(qk_config_load(&cfg, NULL), QK_EINVAL);
    pthread_t th;
    void *other = NULL;
    cr_assert_eq(pthread_create(&th, NULL, errmsg_in_thread, NULL), 0);
    pthread_join(th, &other);
    cr_assert_str_eq((const char *)other, "no error");
    cr_assert_str_eq(qk_config_errmsg(), "qk_config_load: path is NULL");
}

/* A NUL byte inside a value, a key or a section name: libinih would read the line only up to
 * it (a value cut short, a key or a name shortened) and take the file as valid. Each is refused
 * with the line and the NUL's byte column, and *out stays as it was. */
typedef struct {
    const char *text;
    size_t len; /* with the NUL */
    unsigned line, column;
} nul_file;

#define NUL_FILE(s, line, column)                                                                  \
    {                                                                                              \
        s, sizeof(s) - 1, line, column                                                             \
    }

static const nul_file nul_cases[] = {
    NUL_FILE("[service a]\nminute = 6\0"
             "0\n",
             2, 11),                                         /* in a value: 6 would stay */
    NUL_FILE("[quotakeeper]\nstate = a.qk\0state\n", 2, 13), /* in a path */
    NUL_FILE("[service a]\nmin\0ute = 60\n", 2, 4),          /* in a key */
    NUL_FILE("[service a]\nminute = 1\n[service b\0c]\nday = 1\n", 3, 11), /* in a name */
    NUL_FILE("[service a]\n  minute = 1\0\n", 2, 13), /* counted before indentation */
};

Test(config_errors, a_nul_byte_is_refused_with_its_line_and_column, .init = config_setup,
     .fini = config_teardown)
{
    for (size_t i = 0; i < sizeof nul_cases / sizeof nul_cases[0]; i++) {
        char path[PATH_MAX], name[32], want[PATH_MAX + 128];
        snprintf(name, sizeof name, "nul%zu.ini", i);
        qkt_path(path, test_dir, name);
        qkt_write_file(path, nul_cases[i].text, nul_cases[i].len, 0644);
        qk_config *const untouched = (qk_config *)&nul_cases[i];
        qk_config *cfg = untouched;
        const int rc = qk_config_load(&cfg, path);
        cr_expect_eq(rc, QK_EINVAL, "case %zu: rc %d (%s)", i, rc, qk_config_errmsg());
        cr_expect_eq(cfg, untouched, "case %zu: *out changed", i);
        snprintf(want, sizeof want,
                 "%s:%u: a NUL byte at column %u: a config file is text, and the line would be "
                 "cut short there",
                 path, nul_cases[i].line, nul_cases[i].column);
        cr_expect_str_eq(qk_config_errmsg(), want, "case %zu", i);
        if (rc == QK_OK)
            qk_config_free(cfg);
    }
}
