/* Connections to the perf redis-server for the adapters that pay a round trip per call: a
 * hiredis context is not for two threads at once, and the adapters' operations do not know
 * their thread, so each operation takes a connection from a pool and gives it back. The pool's
 * mutex costs tens of ns beside a round trip of tens of µs. */
#ifndef QK_PERF_REDIS_CONNS_H
#define QK_PERF_REDIS_CONNS_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "redis_keys.h"

typedef struct {
    pthread_mutex_t mu;
    redisContext **idle;
    unsigned n_idle, cap;
    atomic_uint_fast64_t round_trips; /* every exchange with the server, for store_ops */
} perf_redis_pool;

void perf_redis_pool_init(perf_redis_pool *p);
/* Closes every connection; none may be taken. */
void perf_redis_pool_destroy(perf_redis_pool *p);

/* A connection of its own for the caller until it is given back; dies if the server is gone. */
redisContext *perf_redis_take(perf_redis_pool *p);
void perf_redis_give(perf_redis_pool *p, redisContext *c);

/* The reply of one command (printf-style, as redisCommand), dying on a failed exchange or an
 * error reply: the harness has no error path worth timing. The caller frees it. */
redisReply *perf_redis_do(perf_redis_pool *p, redisContext *c, const char *fmt, ...);

/* used[s] = the counter keys[s] (0 when absent), all read by one MGET: one consistent cut. */
void perf_redis_counts(perf_redis_pool *p, char (*keys)[PERF_KEY_MAX], uint32_t n, uint64_t *used);

/* Deletes the counters. */
void perf_redis_delete(perf_redis_pool *p, char (*keys)[PERF_KEY_MAX], uint32_t n);

#endif
