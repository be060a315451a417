/* The store seam's shared part: store URLs and the registry of backends compiled into this
 * build. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store/store.h"

/* Backends compiled in, by scheme, each behind its build option, so a build without one carries
 * none of its code or dependencies. QK_STORE_REDIS_BACKEND names the table that serves
 * redis://: this library's, or in a test-only variant a mutant's (tests/store/CMakeLists.txt). */
#ifndef QK_STORE_REDIS_BACKEND
#define QK_STORE_REDIS_BACKEND qk__store_redis
#endif
#ifdef QK_WITH_REDIS
extern const qk__store_backend QK_STORE_REDIS_BACKEND, qk__store_redis_unix;
#endif
#ifdef QK_WITH_DYNAMODB
extern const qk__store_backend qk__store_dynamodb;
#endif
static const qk__store_backend *const backends[] = {
#ifdef QK_WITH_REDIS
    &QK_STORE_REDIS_BACKEND, &qk__store_redis_unix,
#endif
#ifdef QK_WITH_DYNAMODB
    &qk__store_dynamodb,
#endif
    NULL};

int64_t qk__store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const qk__store_backend *qk__store_backend_find(const char *scheme)
{
    for (size_t i = 0; backends[i] != NULL; i++)
        if (strcmp(backends[i]->scheme, scheme) == 0 &&
            backends[i]->version == QK__STORE_BACKEND_VERSION)
            return backends[i];
    return NULL;
}

/* Where a URL's user information ends (its '@'), or NULL if it has none. The rule: the user
 * information runs from "://" to the LAST '@' of the URL, so a user name or password may hold
 * '/', '?', '#', ':' and '@' raw or %-escaped; a URL whose text after "://" starts with '/' has
 * an empty authority and no user information (redis+unix:///path). The price: a URL with user
 * information must not hold a raw '@' after its host (path, query): it would be read as part of
 * the password, which then fails to parse as a host and is hidden in the message either way. */
static const char *userinfo_end(const char *auth)
{
    if (*auth == '/')
        return NULL;
    return strrchr(auth, '@');
}

void qk__store_url_redact(char *buf, size_t len, const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    const char *at = userinfo_end(auth);
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon == NULL) {
        snprintf(buf, len, "%s", url);
        return;
    }
    snprintf(buf, len, "%.*s:***%s", (int)(colon - url), url, at);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int qk__store_url_decode(char *dst, size_t cap, const char *src, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            const int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || out + 1 >= cap)
            return -1;
        dst[out++] = c;
    }
    dst[out] = '\0';
    return 0;
}

/* The URL as a message shows it: redacted, and cut short so the reason still fits. */
static void shown_url(char *buf, size_t len, const char *url)
{
    char redacted[2 * QK__STORE_HOST_MAX];
    qk__store_url_redact(redacted, sizeof redacted, url);
    if (strlen(redacted) < len)
        snprintf(buf, len, "%s", redacted);
    else
        snprintf(buf, len, "%.*s...", (int)len - 4, redacted);
}

static int bad_url(const char *url, const char *why)
{
    char shown[80];
    shown_url(shown, sizeof shown, url);
    return qk__fail(QK_EINVAL, "store URL '%s': %s", shown, why);
}

/* host[:port], or [v6]:port; host may be empty (a unix socket URL). */
static int parse_host_port(qk__store_url *out, const char *url, const char *p, size_t n)
{
    const char *port = NULL;
    size_t host_len = n;
    if (n > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close == NULL)
            return bad_url(url, "an IPv6 address misses its ']'");
        host_len = (size_t)(close - p) + 1;
        if (host_len < n && p[host_len] != ':')
            return bad_url(url, "text after the IPv6 address's ']'");
        if (host_len < n)
            port = p + host_len + 1;
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon != NULL) {
            host_len = (size_t)(colon - p);
            port = colon + 1;
        }
    }
    if (host_len >= sizeof out->host)
        return bad_url(url, "the host name is too long");
    memcpy(out->host, p, host_len);
    out->host[host_len] = '\0';
    if (port != NULL) {
        const size_t port_len = (size_t)(p + n - port);
        long value = 0;
        if (port_len == 0 || port_len > 5)
            return bad_url(url, "the port is not a number from 1 to 65535");
        for (size_t i = 0; i < port_len; i++) {
            if (port[i] < '0' || port[i] > '9')
                return bad_url(url, "the port is not a number from 1 to 65535");
            value = value * 10 + (port[i] - '0');
        }
        if (value < 1 || value > 65535)
            return bad_url(url, "the port is not a number from 1 to 65535");
        out->port = (int)value;
    }
    return QK_OK;
}

int qk__store_url_parse(qk__store_url *out, const char *url)
{
    qk__store_url u;
    memset(&u, 0, sizeof u);
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return bad_url(url, "expected scheme://...");
    const size_t scheme_len = (size_t)(sep - url);
    if (scheme_len == 0 || scheme_len >= sizeof u.scheme)
        return bad_url(url, "the scheme is empty or too long");
    for (size_t i = 0; i < scheme_len; i++) {
        const char c = url[i];
        const int ok = (c >= 'a' && c <= 'z') ||
                       (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok)
            return bad_url(url, "the scheme must be lower-case letters, digits, '+', '-', '.'");
    }
    memcpy(u.scheme, url, scheme_len);

    const char *auth = sep + 3;
    const char *at = userinfo_end(auth); /* before the host part: a password may hold '/' */
    const char *host = at ? at + 1 : auth;
    const size_t host_len = strcspn(host, "/?"); /* a query may hold '/' (an endpoint URL) */
    if (at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        const size_t user_len = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        if (qk__store_url_decode(u.user, sizeof u.user, auth, user_len) != 0)
            return bad_url(url, "the user name is too long or has a bad %-escape");
        if (colon != NULL) {
            u.has_password = 1;
            if (qk__store_url_decode(u.password, sizeof u.password, colon + 1,
                                     (size_t)(at - colon - 1)) != 0) {
                explicit_bzero(&u, sizeof u);
                return bad_url(url, "the password is too long or has a bad %-escape");
            }
        }
    }
    int rc = parse_host_port(&u, url, host, host_len);
    if (rc != QK_OK) {
        explicit_bzero(&u, sizeof u);
        return rc;
    }
    const char *path = host + host_len;
    const size_t path_len = strcspn(path, "?");
    if (path_len >= sizeof u.path) {
        explicit_bzero(&u, sizeof u);
        return bad_url(url, "the path is too long");
    }
    memcpy(u.path, path, path_len);
    u.path[path_len] = '\0';
    if (path[path_len] == '?') {
        if (strlen(path + path_len + 1) >= sizeof u.query) {
            explicit_bzero(&u, sizeof u);
            return bad_url(url, "the query is too long");
        }
        strcpy(u.query, path + path_len + 1);
    }
    *out = u;
    explicit_bzero(&u, sizeof u); /* the password's stack copy: a wipe the compiler keeps */
    return QK_OK;
}

int qk_store_init(int *created, const char *url, int64_t timeout_ms)
{
    if (url == NULL)
        return qk__fail(QK_EINVAL, "url is NULL");
    if (timeout_ms < 0)
        return qk__fail(QK_EINVAL, "timeout_ms is negative (%lld)", (long long)timeout_ms);
    const qk__store_backend *b;
    qk__store_url parsed;
    int rc = qk__store_check(url, &b, &parsed);
    if (rc != QK_OK)
        return rc;
    qk__store_conn *c = NULL;
    rc = b->open(&c, &parsed);
    explicit_bzero(&parsed, sizeof parsed); /* the connection keeps its own copy */
    if (rc != QK_OK)
        return rc;
    int made = 0;
    const int64_t deadline = qk__store_now_ms() + (timeout_ms ? timeout_ms : QK__STORE_INIT_MS);
    rc = b->init(c, deadline, &made);
    b->close(c);
    if (rc == QK_OK && created != NULL)
        *created = made;
    return rc;
}

int qk__store_check(const char *url, const qk__store_backend **backend, qk__store_url *parsed)
{
    *backend = NULL; /* on every failure too: callers may not read an unset pointer */
    int rc = qk__store_url_parse(parsed, url);
    if (rc != QK_OK)
        return rc;
    const qk__store_backend *b = qk__store_backend_find(parsed->scheme);
    if (b == NULL) {
        explicit_bzero(parsed->password, sizeof parsed->password);
        char shown[80];
        shown_url(shown, sizeof shown, url);
        return qk__fail(QK_EINVAL, "store URL '%s': this build has no backend for scheme '%s'",
                        shown, parsed->scheme);
    }
    if ((rc = b->check_url(parsed)) != QK_OK)
        return rc;
    *backend = b;
    return QK_OK;
}
