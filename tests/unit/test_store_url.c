/* The store seam's URLs (src/store/store.c): every form the store issues name, what each
 * malformed one says, and that a password never reaches a message. White-box: the parser is
 * internal; qk_tracker_new's use of it is in test_api.c (bad_options). */
#include <criterion/criterion.h>
#include <string.h>

#include "store/store.h"

static qk__store_url parse_ok(const char *url)
{
    qk__store_url u;
    memset(&u, 0x5a, sizeof u);
    cr_assert_eq(qk__store_url_parse(&u, url), QK_OK, "%s: %s", url, qk_errmsg());
    return u;
}

Test(store_url, redis_forms)
{
    qk__store_url u = parse_ok("redis://127.0.0.1");
    cr_assert_str_eq(u.scheme, "redis");
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_eq(u.port, 0, "0: the backend's default");
    cr_assert_str_eq(u.path, "");
    cr_assert_str_eq(u.user, "");
    cr_assert_eq(u.has_password, 0);

    u = parse_ok("redis://cache.internal:6380/3");
    cr_assert_str_eq(u.host, "cache.internal");
    cr_assert_eq(u.port, 6380);
    cr_assert_str_eq(u.path, "/3");

    u = parse_ok("redis://:s3cret@h:1/0");
    cr_assert_str_eq(u.user, "");
    cr_assert_eq(u.has_password, 1);
    cr_assert_str_eq(u.password, "s3cret");
    cr_assert_str_eq(u.host, "h");
    cr_assert_eq(u.port, 1);

    u = parse_ok("redis://app:p%40ss%3Aw%2Fd@h");
    cr_assert_str_eq(u.user, "app");
    cr_assert_str_eq(u.password, "p@ss:w/d", "percent escapes are decoded");

    u = parse_ok("redis://app:@h");
    cr_assert_eq(u.has_password, 1, "an empty password is still a password");
    cr_assert_str_eq(u.password, "");

    u = parse_ok("redis://[::1]:6379");
    cr_assert_str_eq(u.host, "[::1]");
    cr_assert_eq(u.port, 6379);

    u = parse_ok("redis+unix:///run/redis/redis.sock");
    cr_assert_str_eq(u.scheme, "redis+unix");
    cr_assert_str_eq(u.host, "");
    cr_assert_str_eq(u.path, "/run/redis/redis.sock");
}

/* Each malformed URL: QK_EINVAL, a message naming what is wrong, and the output untouched. */
static void parse_bad(const char *url, const char *needle)
{
    qk__store_url u;
    memset(&u, 0x5a, sizeof u);
    qk__store_url before = u;
    cr_assert_eq(qk__store_url_parse(&u, url), QK_EINVAL, "%s was accepted", url);
    cr_assert(strstr(qk_errmsg(), needle) != NULL, "%s: '%s' lacks '%s'", url, qk_errmsg(), needle);
    cr_assert(memcmp(&u, &before, sizeof u) == 0, "%s: out was written on error", url);
}

Test(store_url, malformed)
{
    parse_bad("127.0.0.1:6379", "expected scheme://");
    parse_bad("://host", "scheme is empty");
    parse_bad("Redis://host", "lower-case");
    parse_bad("1redis://host", "lower-case");
    parse_bad("averyveryverylongscheme://host", "too long");
    parse_bad("redis://host:", "port");
    parse_bad("redis://host:0", "port");
    parse_bad("redis://host:65536", "port");
    parse_bad("redis://host:63a", "port");
    parse_bad("redis://host:123456", "port");
    parse_bad("redis://[::1", "']'");
    parse_bad("redis://[::1]x", "after the IPv6");
    parse_bad("redis://u:p%4@h", "bad %-escape");
    parse_bad("redis://u:p%zz@h", "bad %-escape");
    parse_bad("redis://u:p%00@h", "bad %-escape");
    char long_host[600] = "redis://";
    memset(long_host + 8, 'h', 400);
    parse_bad(long_host, "host name is too long");
}

/* Catches: a password echoed into qk_errmsg(), which programs log. */
Test(store_url, password_never_in_a_message)
{
    const char *secret = "TopSecret-42";
    const char *urls[] = {
        "redis://user:TopSecret-42@host:99999",
        "redis://:TopSecret-42@[::1",
        "unknown://:TopSecret-42@host",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        const qk__store_backend *b = NULL;
        qk__store_url u;
        cr_assert_eq(qk__store_check(urls[i], &b, &u), QK_EINVAL);
        cr_assert_null(strstr(qk_errmsg(), secret), "message '%s' shows the password", qk_errmsg());
        cr_assert_not_null(strstr(qk_errmsg(), ":***@"), "'%s' shows where it was", qk_errmsg());
    }
    char shown[128];
    qk__store_url_redact(shown, sizeof shown, "redis://app:pw@h:1/2");
    cr_assert_str_eq(shown, "redis://app:***@h:1/2");
    qk__store_url_redact(shown, sizeof shown, "redis://app@h/2");
    cr_assert_str_eq(shown, "redis://app@h/2", "no password, nothing hidden");
    qk__store_url_redact(shown, sizeof shown, "redis+unix:///tmp/a:b@c");
    cr_assert_str_eq(shown, "redis+unix:///tmp/a:b@c", "a path is not user information");
}

/* Catches: the authority cut at the first '/' or '?' before the user information is found, so
 * a password holding one was read as host and path, and shown whole in the message. The rule
 * (store.c): the user information ends at the URL's last '@'. */
Test(store_url, password_with_separators)
{
    static const struct {
        const char *url, *password, *host, *path;
    } cases[] = {
        {"redis://app:pa/ss@h:1/2", "pa/ss", "h", "/2"},
        {"redis://:pa?ss@h:1", "pa?ss", "h", ""},
        {"redis://:pa#ss@h", "pa#ss", "h", ""},
        {"redis://:p@ss@h/3", "p@ss", "h", "/3"},
        {"redis://u:a:b/c?d#e@f@[::1]:7/4", "a:b/c?d#e@f", "[::1]", "/4"},
        {"redis://:p%2F%3F%23%40@h", "p/?#@", "h", ""},
        {"redis+unix://:s/e?c@/run/r.sock", "s/e?c", "", "/run/r.sock"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const qk__store_url u = parse_ok(cases[i].url);
        cr_assert_eq(u.has_password, 1, "%s", cases[i].url);
        cr_assert_str_eq(u.password, cases[i].password, "%s", cases[i].url);
        cr_assert_str_eq(u.host, cases[i].host, "%s", cases[i].url);
        cr_assert_str_eq(u.path, cases[i].path, "%s", cases[i].url);
        char shown[128];
        qk__store_url_redact(shown, sizeof shown, cases[i].url);
        cr_assert_not_null(strstr(shown, ":***@"), "%s shown as %s", cases[i].url, shown);
        cr_assert_null(strstr(shown, "ss"), "%s shown as %s", cases[i].url, shown);
    }
    /* Each refused (bad port, no backend, a query on redis): the password in no message. */
    const char *bad[] = {
        "redis://:Sec/ret?x#y@host:99999", "redis://:Sec/ret@host:0/1", "nope://:Sec?ret@h",
        "redis://:Sec#ret@h:x/1",          "redis://:Sec@ret@[::1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const qk__store_backend *b = NULL;
        qk__store_url u;
        cr_assert_eq(qk__store_check(bad[i], &b, &u), QK_EINVAL, "%s", bad[i]);
        cr_assert_null(strstr(qk_errmsg(), "Sec"), "%s: '%s'", bad[i], qk_errmsg());
        cr_assert_null(strstr(qk_errmsg(), "ret"), "%s: '%s'", bad[i], qk_errmsg());
        cr_assert_not_null(strstr(qk_errmsg(), ":***@"), "%s: '%s'", bad[i], qk_errmsg());
    }
}

Test(store_url, schemes_and_backends)
{
    const qk__store_backend *b = (const qk__store_backend *)&b;
    qk__store_url u;
    cr_assert_eq(qk__store_check("memcached://127.0.0.1:11211", &b, &u), QK_EINVAL);
    cr_assert_not_null(strstr(qk_errmsg(), "no backend for scheme 'memcached'"), "%s", qk_errmsg());
    cr_assert_null(b, "on error the backend is NULL (store.c: callers may not read it unset)");
    cr_assert_null(qk__store_backend_find(""));
    /* The test builds have the Redis backend (tests/run.sh installs hiredis). */
    cr_assert_eq(qk__store_check("redis://127.0.0.1:6379/2", &b, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_str_eq(b->scheme, "redis");
    cr_assert_eq(qk__store_check("redis+unix:///tmp/r.sock", &b, &u), QK_OK, "%s", qk_errmsg());
    cr_assert_str_eq(b->scheme, "redis+unix");
}
