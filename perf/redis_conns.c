/* The connection pool (redis_conns.h). */
#include "redis_conns.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "redis_server.h"

void perf_redis_pool_init(perf_redis_pool *p)
{
    pthread_mutex_init(&p->mu, NULL);
    p->idle = NULL;
    p->n_idle = p->cap = 0;
    atomic_init(&p->round_trips, 0);
}

void perf_redis_pool_destroy(perf_redis_pool *p)
{
    for (unsigned i = 0; i < p->n_idle; i++)
        redisFree(p->idle[i]);
    free(p->idle);
    pthread_mutex_destroy(&p->mu);
}

redisContext *perf_redis_take(perf_redis_pool *p)
{
    pthread_mutex_lock(&p->mu);
    redisContext *c = p->n_idle > 0 ? p->idle[--p->n_idle] : NULL;
    pthread_mutex_unlock(&p->mu);
    if (c != NULL)
        return c;
    c = redisConnect("127.0.0.1", perf_redis_port());
    if (c == NULL || c->err)
        perf_die("redis on port %d: %s", perf_redis_port(), c ? c->errstr : "no memory");
    return c;
}

void perf_redis_give(perf_redis_pool *p, redisContext *c)
{
    pthread_mutex_lock(&p->mu);
    if (p->n_idle == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->idle = realloc(p->idle, p->cap * sizeof *p->idle);
        if (p->idle == NULL)
            perf_die("no memory for redis connections");
    }
    p->idle[p->n_idle++] = c;
    pthread_mutex_unlock(&p->mu);
}

redisReply *perf_redis_do(perf_redis_pool *p, redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    atomic_fetch_add_explicit(&p->round_trips, 1, memory_order_relaxed);
    if (r == NULL)
        perf_die("redis: %s", c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        perf_die("redis: %s", r->str);
    return r;
}

void perf_redis_counts(perf_redis_pool *p, char (*keys)[PERF_KEY_MAX], uint32_t n, uint64_t *used)
{
    const char **argv = malloc((n + 1) * sizeof *argv);
    if (argv == NULL)
        perf_die("no memory");
    argv[0] = "MGET";
    for (uint32_t s = 0; s < n; s++)
        argv[s + 1] = keys[s];
    redisContext *c = perf_redis_take(p);
    redisReply *r = redisCommandArgv(c, (int)n + 1, argv, NULL);
    atomic_fetch_add_explicit(&p->round_trips, 1, memory_order_relaxed);
    perf_redis_give(p, c);
    free(argv);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n)
        perf_die("redis MGET: odd reply");
    for (uint32_t s = 0; s < n; s++)
        used[s] =
            r->element[s]->type == REDIS_REPLY_STRING ? strtoull(r->element[s]->str, NULL, 10) : 0;
    freeReplyObject(r);
}

void perf_redis_delete(perf_redis_pool *p, char (*keys)[PERF_KEY_MAX], uint32_t n)
{
    redisContext *c = perf_redis_take(p);
    for (uint32_t s = 0; s < n; s++)
        freeReplyObject(perf_redis_do(p, c, "DEL %s", keys[s]));
    perf_redis_give(p, c);
}
