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

/* How a request is merged (qk__store_merge_window's how). */
enum {
    /* The newest request of its host: it may be granted more. Without it (a request older than
     * one the store already applied for the host) the counters are merged but nothing granted:
     * the host has asked again since, and a grant it would never hear of would only strand
     * quota. */
    QK__MERGE_MAY_GRANT = 1,
    /* The host's last word: merged, then everything it holds unused goes back (as
     * qk__store_retire_counts), and nothing is granted. */
    QK__MERGE_LAST_WORD = 2,
};

/* Applies one window of a host's request to what the store holds for it, at the store's time
 * now_ms, as how says (QK__MERGE_*). A repeated, late or reordered request changes nothing.
 * others: for a piece of a rolling window (req->horizon_ms > 0), what the fleet holds in the
 * window's other pieces that ended less than horizon_ms before now_ms (qk__store_piece_counts),
 * which the grant leaves room for; 0 for a fixed window. */
int qk__store_merge_window(qk__store_counts *c, const qk__store_window_req *req, int64_t now_ms,
                           unsigned how, uint64_t others);

/* Rolling windows in the fleet (docs/store.md, "Rolling windows"). A rolling window of length W
 * is leased in pieces: fixed store windows of qk__store_piece_ms(W, clock), aligned from the
 * epoch. A host consumes a piece's lease only while its clock (corrected by the offset to the
 * store) is inside the piece, and the store grants in a piece only what the limit leaves over
 * the grants of every other piece that ended less than qk__store_horizon_ms(W, clock) ago. So
 * the calls of any interval of length W come from pieces whose grants one check summed.
 *
 * QK__ROLLING_SKEW_MS bounds the error of a host's corrected clock when it uses a grant: half the
 * round trip that measured the offset (a grant whose round trip took longer than twice this is
 * not used: it goes back), plus the store clock's resolution, which the horizon adds too. */
#define QK__ROLLING_SKEW_MS INT64_C(250)
/* A piece: a tenth of W, and on a store whose clock counts whole seconds (clock_ms 1000) at
 * least two of them and whole ones, so a grant read at a rounded-down second still has the rest
 * of its piece to be used in. */
int64_t qk__store_piece_ms(int64_t span_ms, int64_t clock_ms);
/* How long after its end a piece still counts against the window's other pieces:
 * W + clock_ms + QK__ROLLING_SKEW_MS. */
int64_t qk__store_horizon_ms(int64_t span_ms, int64_t clock_ms);
/* How long after its end the store keeps a piece: its horizon and one piece more. Past the
 * horizon it counts for nothing; the extra piece lets a late report land on a record that is
 * still there. Short, so that the records a sync reads (DynamoDB: the service's one item) hold a
 * dozen pieces or so, not a day's. */
static inline int64_t qk__store_piece_keep_ms(int64_t span_ms, int64_t clock_ms)
{
    return qk__store_horizon_ms(span_ms, clock_ms) + qk__store_piece_ms(span_ms, clock_ms);
}

/* Whether a piece [start_ms, end_ms) other than the one asked for counts at now_ms. */
static inline int qk__store_piece_counts(int64_t end_ms, int64_t now_ms, int64_t horizon_ms)
{
    return end_ms > now_ms - horizon_ms;
}

/* Retirement (docs/store.md): the store takes back what a departed host holds and has not used,
 * x = g - (u - r), lowering G by as much; its use stays in U and in G. Afterwards the host's
 * counters are kept only where that host alone reads them (Redis: the window's gone hash;
 * DynamoDB: the host's own item), so a host that comes back resumes exactly. QK__MERGE_OK, or
 * QK__MERGE_BELOW_ZERO (G holds less than the host does: changed behind the hosts' backs) with
 * nothing changed. */
int qk__store_retire_counts(qk__store_counts *c);

/* Defined here once for both backends (the Redis script gets them as ARGV[2] and ARGV[3]):
 * a host last seen at seen_ms still counts as active at now_ms, for fair shares, while
 * seen_ms >= now_ms - QK__STORE_ACTIVE_MS; the store keeps a window QK__STORE_RETENTION_MS after
 * its end, or the window's length if longer, so late reports still land. */
#define QK__STORE_ACTIVE_MS    INT64_C(60000)
#define QK__STORE_RETENTION_MS INT64_C(86400000)

/* A host the store has not heard from for this long is retired by the next syncs of other hosts
 * (at most QK__STORE_RETIRE_PER_SYNC per window per sync, so the cost of a sync stays bounded).
 * Twice a host's lease term (QK__LEASE_TERM_MS, src/store/lease.h): a host stops using what it
 * holds one term after the send of its last answered sync, and the other term covers clock steps
 * and offsets (believed within QK__STORE_SKEW_MAX_MS) between the host and the store, so the
 * store never takes back calls a host may still consume. */
#define QK__STORE_RETIRE_MS       INT64_C(600000)
#define QK__STORE_RETIRE_PER_SYNC 8

/* The retirement bound a sync sends (QK__STORE_RETIRE_MS; in a QK_TEST_HOOKS build,
 * QK_TEST_RETIRE_MS from the environment when set, so tests see retirement in seconds). */
int64_t qk__store_retire_ms(void);

/* How long the store keeps the window [start_ms, end_ms) after its end: the larger of
 * QK__STORE_RETENTION_MS and the window's length (what the Redis keys' expiry does). */
int64_t qk__store_retention_ms(int64_t start_ms, int64_t end_ms);

#endif
