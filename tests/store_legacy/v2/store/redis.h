/* FIXTURE (tests/store_legacy): src/store/redis.h as released at commit 3a831db, kept verbatim
 * as the "old host" of the mixed-fleet test (the qk_store_v2 library variant). Never edit it to
 * follow today's code: it is what a host of that release writes into the store. The only changes
 * are this comment and what compiling against today's internal headers takes, all made by
 * tests/store_legacy/CMakeLists.txt, none in the text: quoted includes of store/merge.h,
 * store/dynamodb.h, store/redis.h and qk_merge_lua.h resolve to the frozen copies (-iquote), and
 * qk__store_merge_window and qk__store_retention_ms are renamed qk__v2_* so that they do not
 * clash with today's merge.c, which the rest of the library keeps. */
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
