/* The lease model, written once for every backend: what a host holds of a window's fleet quota,
 * how much it asks for, what it may do while the store is unreachable, and how the store's
 * answer is merged. Pure functions over plain structs: no lock, no I/O, no allocation, so they
 * run under a slot lock and are tested alone (docs/store.md).
 *
 * Per window, this host keeps cumulative counters: granted (g), released (x: lease given back),
 * used (u) and refunded (r). Every one only grows and the store keeps the larger of its value
 * and the host's, so a sync can be repeated, duplicated or reordered without changing anything,
 * a give-back included. A consume stays local while u - r + n <= g - x for every window. */
#ifndef QK_STORE_LEASE_H
#define QK_STORE_LEASE_H

#include <stdatomic.h>
#include <stdint.h>

#include "quotakeeper.h"

/* The share of what was left at the last sync that a host may use, past its lease, while the
 * store is unreachable (QK_OUTAGE_SAFE): the original system's reduced-rate fraction. */
#define QK__OUTAGE_SAFE_PCT 25
/* A grant aims to cover this much of the host's recent use. */
#define QK__LEASE_TARGET_MS 10000

/* How long after the send of its last answered sync a host may consume what it holds (see
 * qk__store_slot.term_ms). A host that uses a service syncs at least every second, and an idle
 * one gives its lease back after 30 s, so a live host renews its term long before it runs out;
 * one that is frozen, partitioned or stopped stops consuming its lease after a term. */
#define QK__LEASE_TERM_MS INT64_C(300000)
/* The term a sync grants (QK__LEASE_TERM_MS; in a QK_TEST_HOOKS build, QK_TEST_LEASE_TERM_MS from
 * the environment when set). */
int64_t qk__lease_term_ms(void);

/* One window's counters, as this host holds them. */
typedef struct {
    int64_t start_ms; /* the window they belong to; 0 with all counters 0: nothing yet */
    int64_t end_ms;   /* QK_NEVER for QK_FOREVER */
    uint64_t used;    /* u: calls this host counted in this window (consumed or recorded) */
    /* The consume's fast path in one compare: n more calls with used + n < gate fit the lease
     * and leave it not low (qk__lease_gate). Derived from g, x and r, so no use moves it; the
     * engine closes it (0) before a change that could lower it and sets it after every change,
     * so a process killed in between leaves it closed, never stale. 0: the general path. */
    uint64_t gate;
    uint64_t limit;    /* the window's limit when last synced */
    uint64_t granted;  /* g: the store's grants to this host in this window, in total */
    uint64_t released; /* x: what it gave back, in total */
    uint64_t refunded; /* r: calls it gave back */
    /* What the store acknowledged at the last successful sync. */
    uint64_t acked_used, acked_refunded;
    uint64_t fleet_used;       /* U: every host's use, as of that sync */
    uint64_t fleet_granted;    /* G */
    uint64_t outage_allowance; /* QK_OUTAGE_SAFE: calls allowed past the lease while degraded */
    uint64_t outage_used;      /* of which used */
    uint32_t active_hosts;     /* hosts the store saw lately */
    uint32_t synced;           /* 1 once a sync of this window succeeded */
} qk__lease;

/* A service's leases and use statistics; guarded by the service's slot lock. In its own
 * 128-byte blocks, as the slots are: every consume writes its lease, and two threads on
 * neighbouring services must not share a line (unaligned, the 2-thread consume scaled 1.0). */
typedef struct {
    _Alignas(128) qk__lease cur[QK_MAX_WINDOWS]; /* the windows the slot has now */
    qk__lease prev[QK_MAX_WINDOWS]; /* the one before each, until its last counts are acked */
    int64_t last_use_ms;            /* the last consume or record, by the tracker's clock */
    int64_t rate_mark_ms;           /* the rate estimate: use since this time ... */
    uint64_t rate_mark_used;        /* ... counted from this many calls of window 0 */
    double rate_per_s;              /* smoothed calls per second */
    uint32_t released;              /* the idle lease was given back; a new use clears it */
    uint32_t pad;
    /* The lease's term: what the host holds may be consumed only while the fleet's clock is
     * before term_ms, one QK__LEASE_TERM_MS after the send of the last sync the store answered.
     * The store retires a silent host (and takes back its lease) only after twice that. 0 (a
     * state file made before terms): run out, so the first consume syncs. */
    int64_t term_ms;
    uint64_t seq; /* the last request number sent for the service (qk__store_sync_req.seq) */
} qk__store_slot;

/* Calls this host holds and has not used: g - x - (u - r), 0 when over. */
static inline uint64_t qk__lease_left(const qk__lease *l)
{
    const uint64_t held = l->granted - l->released;
    const uint64_t net = l->used - l->refunded;
    return held > net ? held - net : 0;
}

/* Whether the lease is low enough (empty, or under an eighth of what is held) to be refilled
 * before a consume has to wait for it. An eighth, not a tenth: a shift where a tenth took a
 * multiply on every consume (docs/perf/hot-path.md). */
static inline int qk__lease_low_at(uint64_t left, const qk__lease *l)
{
    return left == 0 || left < (l->granted - l->released) / 8;
}

static inline int qk__lease_low(const qk__lease *l)
{
    return qk__lease_low_at(qk__lease_left(l), l);
}

/* Whether using n more calls makes the lease low: the moment to wake the sync thread, once per
 * crossing, so a host running on a low lease does not signal on every call. */
static inline int qk__lease_crosses_low(const qk__lease *l, uint64_t n)
{
    const uint64_t left = qk__lease_left(l);
    return !qk__lease_low_at(left, l) && qk__lease_low_at(left > n ? left - n : 0, l);
}

/* The gate for the lease's g, x and r: the least use at which the lease is low,
 * (g - x) + r - max(1, (g - x) / 8) + 1, 0 when that does not fit. Then, for any u,
 * u + n < gate exactly when n calls fit (qk__lease_fits) and leave the lease not low, and
 * u < gate <= u + n exactly when they make it low (qk__lease_crosses_low). */
static inline uint64_t qk__lease_gate(const qk__lease *l)
{
    const uint64_t held = l->granted - l->released;
    const uint64_t low = held / 8 > 0 ? held / 8 : 1;
    uint64_t top;
    if (__builtin_add_overflow(held, l->refunded, &top))
        return 0; /* counts near 2^64 take the general path */
    return top >= low ? top - low + 1 : 0;
}

/* This host's use the store has not seen yet (net of refunds). */
static inline uint64_t qk__lease_unsynced(const qk__lease *l)
{
    return (l->used - l->acked_used) - (l->refunded - l->acked_refunded);
}

/* Starts the counters for a new window (the old window's are the caller's to keep). */
void qk__lease_start(qk__lease *l, int64_t start_ms, int64_t end_ms, uint64_t limit);

/* The total grant (g) the host should ask for: enough to hold about target_ms of its recent
 * rate (rate_per_s; QK__LEASE_TARGET_MS, or what is left of a rolling window's piece, after
 * which the lease is of no use), at least `need` more than it has used, never more than a fair
 * part of what the fleet has left for the active hosts, and never more than lease_max (0: no
 * cap). Near the limit this is one call at a time. */
uint64_t qk__lease_want(const qk__lease *l, uint64_t need, double rate_per_s, uint64_t lease_max,
                        int64_t target_ms);

/* Whether a rolling window's piece is worth asking for ahead of use: at rate_per_s the host
 * would use a call in the left_ms the piece has left. A grant asked for and not used in its
 * piece counts against the window for a whole horizon (docs/store.md), so a host that uses a
 * window rarely asks only when a consume needs the calls (64 hosts prefetching one call a piece
 * held a one-second window's limit unused: 38% of a steady demand granted). */
static inline int qk__lease_piece_worth(double rate_per_s, int64_t left_ms)
{
    return left_ms > 0 && rate_per_s * (double)left_ms >= 1000.0;
}

/* Whether n more calls fit in the lease, or, while the store is degraded, in what the outage
 * policy allows past it (outage_used is updated by the caller when it consumes). */
static inline int qk__lease_fits(const qk__lease *l, uint64_t n)
{
    return n <= qk__lease_left(l);
}
int qk__lease_fits_outage(const qk__lease *l, uint64_t n, qk_outage policy);

/* The store's answer to a sync that sent `sent_used` and `sent_refunded`: the host's grant and
 * give-back totals (each only grows), and the fleet's figures. Returns 1 when the answer is
 * current; 0 when it answers a request older than one already merged (another process of the
 * host synced meanwhile): then only the host's totals are taken, and the fleet's figures stay
 * those of the newer answer. */
/* The store's clock is believed within QK__STORE_SKEW_MAX_MS of the host's only: a measured
 * offset (store - host) beyond it is not taken and the last believed one stays (0 at first), so
 * a store whose clock is wrong by years cannot move a window past where the local clock puts
 * it, give or take that bound. A minute: NTP keeps a fleet within milliseconds, and a host a
 * minute off still works, it just gets no grants near a window's edge. */
#define QK__STORE_SKEW_MAX_MS INT64_C(60000)
int64_t qk__store_offset_believed(int64_t believed_ms, int64_t measured_ms);

int qk__lease_merge(qk__lease *l, uint64_t granted_host, uint64_t released_host,
                    uint64_t fleet_granted, uint64_t fleet_used, uint64_t limit,
                    uint32_t active_hosts, uint64_t sent_used, uint64_t sent_refunded);

#endif
