/* A rolling window's sub-buckets (docs/windows.md, "Rolling windows"). A rolling window of
 * length W counts in buckets of g = W/50: the window's own count (qk_window.used) covers the 50
 * closed buckets before the current one and the current one, [start_ms, now], with start_ms =
 * (h - 50)g and end_ms = (h + 1)g for the current bucket h. The current bucket's count is
 * implicit, used less the closed ones, so a consume or record changes only `used`, as on a fixed
 * window; the ring changes only when a bucket closes (out of line, at most once per g) or a count
 * falls (a refund, set_used, reset).
 *
 * The rings live apart from the slots, in the region's extension (layout 3), one qk_ring_set per
 * slot, so a layout-2 file upgrades by growing with no slot moving. Pointer-free. */
#ifndef QK_RING_H
#define QK_RING_H

#include <stdint.h>

#include "quotakeeper.h"
#include "window.h"

/* Why 50: the contract allows a rolling window to be conservative by W/50 at most, and a window
 * counted in k buckets of W/k is conservative by at most one bucket. */
#define QK_RING_BUCKETS 50

/* Closed bucket j of window i lives at bucket[i][j mod 50], for j in h-50 .. h-1. */
typedef struct {
    uint64_t bucket[QK_MAX_WINDOWS][QK_RING_BUCKETS];
} qk_ring_state;

typedef struct {
    _Alignas(64) qk_ring_state live;
    uint64_t seal; /* qk__ring_seal_of(live), stored by every change */
    /* A state file's undo copy (as the slot's, slot.h): live as it was before the slot's update
     * whose journal value (odd) is undo_journal. Taken at the update's first ring change. */
    uint32_t undo_journal;
    uint32_t reserved;
    qk_ring_state undo;
} qk_ring_set;

/* Bucket length of a rolling window: W/50, a whole number of ms since W is of whole seconds. */
static inline int64_t qk__ring_bucket_ms(const qk_window *w)
{
    return qk__window_rolling_ms(w) / QK_RING_BUCKETS;
}

/* The window's bounds for current bucket floor(now / g): [(h-50)g, (h+1)g). */
void qk__ring_bounds(qk_window *w, int64_t now_ms);

/* Current bucket index of a rolling window with sound bounds. */
static inline int64_t qk__ring_head(const qk_window *w)
{
    return w->start_ms / qk__ring_bucket_ms(w) + QK_RING_BUCKETS;
}

/* Sum of window i's closed buckets, saturated (a sound ring never gets near it). */
uint64_t qk__ring_closed(const qk_ring_state *r, unsigned i);

uint64_t qk__ring_seal_of(const qk_ring_state *r);

/* Journals the ring before the first change of the slot's update whose journal is `journal`
 * (odd in a state file; even, so nothing to journal, in private memory). */
void qk__ring_journal(qk_ring_set *rs, uint32_t journal);

/* Slides window i to now_ms (past its end): every bucket that closed goes into the ring, every
 * one that left the window out of it and out of the count. Returns the new count. */
uint64_t qk__ring_slide(qk_ring_state *r, unsigned i, qk_window *w, int64_t now_ms);

/* Lowers window i's count to `to` (below its count), taking from the newest buckets first: a
 * refund gives back the calls just taken. */
void qk__ring_lower(qk_ring_state *r, unsigned i, const qk_window *w, uint64_t to);

/* The earliest time at which window i's count falls to `fit` or below if nothing more is
 * counted: when enough of its oldest buckets have left it. */
int64_t qk__ring_fits_at(const qk_ring_state *r, unsigned i, const qk_window *w, uint64_t fit);

#endif
