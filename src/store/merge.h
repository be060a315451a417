/* The store-side merge of one window, for backends whose server cannot run it (DynamoDB reads
 * an item, merges here, and writes it back conditionally). It is the rule the Redis backend's
 * Lua script applies (src/store/redis.c), written once in C: keep the larger of each cumulative
 * counter (the host's grants and give-backs too), move the fleet's totals by the difference,
 * raise the host's grant to cover an overdraft, and grant only what is left of the limit and only
 * while the store's time is inside the window. Pure: no lock, no I/O. */
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

/* Applies one window of a host's request to what the store holds for it, at the store's time
 * now_ms. A repeated, late or reordered request changes nothing. */
void qk__store_merge_window(qk__store_counts *c, const qk__store_window_req *req, int64_t now_ms);

/* Whether a host last seen at seen_ms still counts as active at now_ms (for fair shares): the
 * Redis script's one minute. */
#define QK__STORE_ACTIVE_MS 60000

/* How long the store keeps a window after its end, so late reports still land: a day, or the
 * window's length if longer (what the Redis keys' expiry does). */
int64_t qk__store_retention_ms(int64_t start_ms, int64_t end_ms);

#endif
