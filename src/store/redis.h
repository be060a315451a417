/* The Redis backend (redis.c): its tables for the store registry (store.c), and the one call a
 * test-only variant of it needs, to open connections that run another script
 * (tests/mutation/store_deltas.c). */
#ifndef QK_STORE_REDIS_H
#define QK_STORE_REDIS_H

#include <stddef.h>

#include "store/store.h"

extern const qk__store_backend qk__store_redis, qk__store_redis_unix;

/* A connection to url (not yet connected) whose syncs run script (script_len bytes) instead of
 * the backend's own merge script. QK_ENOMEM. */
int qk__redis_open(qk__store_conn **out, const qk__store_url *url, const char *script,
                   size_t script_len);

#endif
