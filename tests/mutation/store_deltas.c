/* The store mutant (tests/store/CMakeLists.txt, qk_mutant_store): a Redis backend that serves
 * redis:// in that test-only library instead of the real one (store.c's QK_STORE_REDIS_BACKEND),
 * and sends what the protocol forbids, deltas: used and refunded minus what the store last
 * acknowledged, to a script that adds what it is sent (merge.lua's QK_MUTANT_STORE_DELTAS
 * block). A request applied late and sent again then counts twice: store_sigstop must fail
 * against it. Everything else is the real backend's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis.h"

/* merge.lua's mutant block, embedded in this file only (cmake/embed_lua.cmake). */
#define QK_MUTANT_STORE_DELTAS
#include "qk_merge_lua.h"

/* What the store acknowledged, per host and window. */
typedef struct {
    char service[QK_NAME_MAX], host[48];
    unsigned period;
    int64_t start_ms;
    uint64_t used, refunded;
} qk__mutant_store_ack;
static qk__mutant_store_ack acked[64];
/* Held for a whole request: syncs go one at a time, so the only flaw is the resend. */
static pthread_mutex_t acked_mu = PTHREAD_MUTEX_INITIALIZER;

static qk__mutant_store_ack *ack_of(const char *service, const char *host, unsigned period,
                                    int64_t start_ms)
{
    for (size_t i = 0; i < sizeof acked / sizeof acked[0]; i++) {
        qk__mutant_store_ack *a = &acked[i];
        if (a->service[0] == '\0') {
            snprintf(a->service, sizeof a->service, "%s", service);
            snprintf(a->host, sizeof a->host, "%s", host);
            a->period = period;
            a->start_ms = start_ms;
        }
        if (strcmp(a->service, service) == 0 && strcmp(a->host, host) == 0 && a->period == period &&
            a->start_ms == start_ms)
            return a;
    }
    abort(); /* the suite never uses so many windows: a full table would alias them */
}

static int check_url(const qk__store_url *url)
{
    return qk__store_redis.check_url(url);
}

static int open_conn(qk__store_conn **out, const qk__store_url *url)
{
    return qk__redis_open(out, url, qk__store_merge_lua, sizeof qk__store_merge_lua - 1);
}

static int sync_deltas(qk__store_conn *c, const qk__store_sync_req *req,
                       qk__store_sync_reply *reply, int64_t deadline_ms)
{
    pthread_mutex_lock(&acked_mu);
    qk__store_sync_req deltas = *req;
    for (unsigned i = 0; i < req->n_windows; i++) {
        const qk__mutant_store_ack *a =
            ack_of(req->service, req->host_id, req->w[i].period, req->w[i].start_ms);
        deltas.w[i].used = req->w[i].used - a->used;
        deltas.w[i].refunded = req->w[i].refunded - a->refunded;
    }
    const int rc = qk__store_redis.sync(c, &deltas, reply, deadline_ms);
    for (unsigned i = 0; rc == QK_OK && i < req->n_windows; i++) {
        qk__mutant_store_ack *a =
            ack_of(req->service, req->host_id, req->w[i].period, req->w[i].start_ms);
        a->used = req->w[i].used;
        a->refunded = req->w[i].refunded;
    }
    pthread_mutex_unlock(&acked_mu);
    return rc;
}

static int server_time(qk__store_conn *c, int64_t *server_ms, int64_t deadline_ms)
{
    return qk__store_redis.server_time(c, server_ms, deadline_ms);
}

static void close_conn(qk__store_conn *c)
{
    qk__store_redis.close(c);
}

static int init(qk__store_conn *c, int64_t deadline_ms, int *created)
{
    return qk__store_redis.init(c, deadline_ms, created);
}

extern const qk__store_backend qk__mutant_store_deltas;
const qk__store_backend qk__mutant_store_deltas = {QK__STORE_BACKEND_VERSION,
                                                   "redis",
                                                   check_url,
                                                   open_conn,
                                                   sync_deltas,
                                                   server_time,
                                                   close_conn,
                                                   init};
