/* FIXTURE (tests/store_legacy): src/store/merge.h as released at commit 3a831db, kept verbatim
 * as the "old host" of the mixed-fleet test (the qk_store_v2 library variant). Never edit it to
 * follow today's code: it is what a host of that release writes into the store. The only changes
 * are this comment and what compiling against today's internal headers takes, all made by
 * tests/store_legacy/CMakeLists.txt, none in the text: quoted includes of store/merge.h,
 * store/dynamodb.h, store/redis.h and qk_merge_lua.h resolve to the frozen copies (-iquote), and
 * qk__store_merge_window and qk__store_retention_ms are renamed qk__v2_* so that they do not
 * clash with today's merge.c, which the rest of the library keeps. */
/* The store-side merge of one window, for backends whose server cannot run it (DynamoDB reads
 * an item, merges here, and writes it back conditionally). It is the rule the Redis backend's
 * Lua script applies (src/store/merge.lua), written once in C: keep the larger of each cumulative
 * counter (the host's grants and give-backs too), move the fleet's totals by the exact signed
 * difference (never floored), raise the host's grant to cover an overdraft, and grant only what
 * is left of the limit and only while the store's time is inside the window.
 * tests/store/test_merge_diff.c holds the two to the same answers. Pure: no lock, no I/O. */
#ifndef QK_STORE_MERGE_H
#define QK_STORE_MERGE_H

#include <stdint.h>

#include "store/store.h"

/* What the store holds for one window: the fleet's totals and one host's counters. */
typedef struct {
    uint64_t fleet_granted; /* G */
    uint64_t fleet_used;    /* U */
    uint64_t granted;       /* g_h: grants to the host, in total */
    uint64_t released;      /* x_h: given back by the host, in total */
    uint64_t used;          /* u_h */
    uint64_t refunded;      /* r_h */
} qk__store_counts;

/* What qk__store_merge_window says; on anything but QK__MERGE_OK it changed nothing, and the
 * backend refuses the whole request (QK_EIO), as the Redis script does. */
enum {
    QK__MERGE_OK = 0,
    QK__MERGE_REFUNDS_PAST_USE = -1, /* the request refunds more than it used: no host sends that */
    QK__MERGE_BELOW_ZERO = -2,       /* a total would end below zero: the stored window was
                                      * changed behind the hosts' backs */
};

/* Applies one window of a host's request to what the store holds for it, at the store's time
 * now_ms. A repeated, late or reordered request changes nothing. */
int qk__store_merge_window(qk__store_counts *c, const qk__store_window_req *req, int64_t now_ms);

/* Defined here once for both backends (the Redis script gets them as ARGV[2] and ARGV[3]):
 * a host last seen at seen_ms still counts as active at now_ms, for fair shares, while
 * seen_ms >= now_ms - QK__STORE_ACTIVE_MS; the store keeps a window QK__STORE_RETENTION_MS after
 * its end, or the window's length if longer, so late reports still land. */
#define QK__STORE_ACTIVE_MS    INT64_C(60000)
#define QK__STORE_RETENTION_MS INT64_C(86400000)

/* How long the store keeps the window [start_ms, end_ms) after its end: the larger of
 * QK__STORE_RETENTION_MS and the window's length (what the Redis keys' expiry does). */
int64_t qk__store_retention_ms(int64_t start_ms, int64_t end_ms);

#endif
