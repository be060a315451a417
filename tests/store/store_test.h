/* What the store suites share: a real redis-server from tests/support, trackers attached to it,
 * and the store's own view of a quota read with hiredis, through the key layout of
 * src/store/redis.c (one hash per window, qk:{<service>}:<period letter>:<start_ms>, with the
 * fields L, G, U and g:/u:/r:/t:<host id>). Criterion suites only. */
#ifndef QK_STORE_TEST_H
#define QK_STORE_TEST_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qkt_criterion.h"
#include "qkt_store.h"
#include "servers.h"
#include "tmpdir.h"

/* Fault tests wait on this many ms per failed call; small so the layer stays fast, large
 * enough that a loopback round trip on a loaded 2-core machine never misses it. */
#define FAULT_TIMEOUT_MS 100
/* Tests that are not about faults: a sync must not fail by accident. */
#define CALM_TIMEOUT_MS 3000

static inline void sleep_ms(long ms)
{
    const struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline void start_redis(qkt_server *s, const char *appendfsync)
{
    qkt_server_opts o = {0};
    o.redis_appendfsync = appendfsync;
    cr_assert_eq(qkt_server_start(s, QKT_REDIS, &o), 0, "%s", s->error);
}

static inline void redis_url(char *buf, size_t len, const qkt_server *s)
{
    snprintf(buf, len, "redis://127.0.0.1:%d", s->port);
}

/* One command on a fresh connection; the reply (the caller frees it). The test fails when the
 * server cannot be reached. */
__attribute__((format(printf, 2, 3))) static inline redisReply *rcmd(int port, const char *fmt, ...)
{
    const struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    cr_assert(c != NULL && c->err == 0, "connect to redis on %d: %s", port,
              c ? c->errstr : "no memory");
    redisSetTimeout(c, tv);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r, "redis command '%s': %s", fmt, c->errstr);
    redisFree(c);
    return r;
}

/* A command whose reply must be +OK (or any non-error when ok_only is 0). */
#define rcmd_ok(port, ...)                                                                         \
    do {                                                                                           \
        redisReply *r_ = rcmd((port), __VA_ARGS__);                                                \
        cr_assert_neq(r_->type, REDIS_REPLY_ERROR, "redis: %s", r_->str);                          \
        freeReplyObject(r_);                                                                       \
    } while (0)

/* The one key of service svc's window of period letter p ('f' for QK_FOREVER) in the IANA zone
 * `zone` (NULL: UTC; a zoned key is qk:{svc}:<p>@<zone>:<start>): the test fails unless exactly
 * one exists. A window's hash ends in its start's digits; its :seen and :gone keys (merge.lua)
 * do not. */
static inline void window_key_in(char *key, size_t len, int port, const char *svc, char p,
                                 const char *zone)
{
    char shape[80]; /* hiredis formats know no %c */
    snprintf(shape, sizeof shape, "%c%s%s", p, zone != NULL ? "@" : "", zone != NULL ? zone : "");
    redisReply *r = rcmd(port, "KEYS qk:{%s}:%s:*[0-9]", svc, shape);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1, "%zu keys for qk:{%s}:%s:*", r->elements, svc, shape);
    snprintf(key, len, "%s", r->element[0]->str);
    freeReplyObject(r);
}

/* The UTC one. */
static inline void window_key(char *key, size_t len, int port, const char *svc, char p)
{
    window_key_in(key, len, port, svc, p, NULL);
}

/* A numeric field of a hash; 0 when it is absent. */
static inline uint64_t hget_u64(int port, const char *key, const char *field)
{
    redisReply *r = rcmd(port, "HGET %s %s", key, field);
    uint64_t v = 0;
    if (r->type == REDIS_REPLY_STRING)
        v = strtoull(r->str, NULL, 10);
    else
        cr_assert_eq(r->type, REDIS_REPLY_NIL, "HGET %s %s: reply type %d", key, field, r->type);
    freeReplyObject(r);
    return v;
}

/* Field f of host h ("g" granted, "x" given back, "u" used, "r" refunded: each a total). */
static inline uint64_t host_field(int port, const char *key, const char *f, const char *host)
{
    char field[64];
    snprintf(field, sizeof field, "%s:%s", f, host);
    return hget_u64(port, key, field);
}

/* What host h holds by the store's count: its grants less what it gave back. */
static inline uint64_t host_held(int port, const char *key, const char *host)
{
    return host_field(port, key, "g", host) - host_field(port, key, "x", host);
}

/* Hosts with a t: field in the key: the script's "active" count while all are recent. */
static inline unsigned hosts_in_key(int port, const char *key)
{
    redisReply *r = rcmd(port, "HKEYS %s", key);
    unsigned n = 0;
    for (size_t i = 0; i < r->elements; i++)
        n += strncmp(r->element[i]->str, "t:", 2) == 0;
    freeReplyObject(r);
    return n;
}

#endif
