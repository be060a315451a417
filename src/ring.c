/* A rolling window's sub-buckets (ring.h). Every function runs under the slot lock: no call
 * out, no allocation. */
#include <stdatomic.h>
#include <string.h>

#include "ring.h"

/* Clocks beyond about 73 million years from 1970 are clamped, so (h + 51)g never overflows. */
#define RING_CLOCK_MAX (INT64_C(1) << 61)

static int64_t clamp_clock(int64_t now_ms)
{
    return now_ms > RING_CLOCK_MAX    ? RING_CLOCK_MAX
           : now_ms < -RING_CLOCK_MAX ? -RING_CLOCK_MAX
                                      : now_ms;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    const int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static unsigned index_of(int64_t j)
{
    const int64_t m = j % QK_RING_BUCKETS;
    return (unsigned)(m < 0 ? m + QK_RING_BUCKETS : m);
}

void qk__ring_bounds(qk_window *w, int64_t now_ms)
{
    const int64_t g = qk__ring_bucket_ms(w);
    const int64_t h = floor_div(clamp_clock(now_ms), g);
    w->start_ms = (h - QK_RING_BUCKETS) * g;
    w->end_ms = (h + 1) * g;
}

uint64_t qk__ring_closed(const qk_ring_state *r, unsigned i)
{
    uint64_t sum = 0;
    for (unsigned k = 0; k < QK_RING_BUCKETS; k++)
        if (__builtin_add_overflow(sum, r->bucket[i][k], &sum))
            return UINT64_MAX;
    return sum;
}

uint64_t qk__ring_seal_of(const qk_ring_state *r)
{
    /* As the slot's seal (slot.h): a change confined to one word always moves it. */
    uint64_t h = UINT64_C(0x7269e95eb0c1ed01);
    const uint64_t *word = &r->bucket[0][0];
    for (unsigned k = 0; k < QK_MAX_WINDOWS * QK_RING_BUCKETS; k++)
        h += word[k] * (UINT64_C(0xc2b2ae3d27d4eb4f) + 2 * (uint64_t)k);
    return h;
}

void qk__ring_journal(qk_ring_set *rs, uint32_t journal)
{
    if ((journal & 1u) == 0 || rs->undo_journal == journal)
        return;
    memcpy(&rs->undo, &rs->live, sizeof rs->undo);
    /* The copy before the mark that says it is this update's (slot.h, qk__slot_begin). */
    atomic_signal_fence(memory_order_seq_cst);
    rs->undo_journal = journal;
    atomic_signal_fence(memory_order_seq_cst);
}

uint64_t qk__ring_slide(qk_ring_state *r, unsigned i, qk_window *w, int64_t now_ms)
{
    uint64_t *b = r->bucket[i];
    const int64_t h = qk__ring_head(w);
    qk__ring_bounds(w, now_ms);
    const int64_t to = qk__ring_head(w);
    uint64_t used = w->used;
    if (to - h > QK_RING_BUCKETS) { /* every bucket, the current one too, has left */
        memset(b, 0, sizeof r->bucket[i]);
        return 0;
    }
    uint64_t closed = qk__ring_closed(r, i);
    for (int64_t j = h; j < to; j++) {
        /* Bucket j closes; bucket j - 50, in the same place, leaves the window. */
        const unsigned k = index_of(j);
        const uint64_t current = used > closed ? used - closed : 0;
        const uint64_t leaving = b[k];
        used -= leaving < used ? leaving : used;
        closed = closed - leaving + current;
        b[k] = current;
#ifdef QK_MUTANT_RING_EARLY
        /* Test-only (tests/mutation): the oldest bucket still counted leaves one step early. */
        const unsigned oldest = index_of(j + 1);
        used -= b[oldest] < used ? b[oldest] : used;
        closed -= b[oldest];
        b[oldest] = 0;
#endif
    }
    return used;
}

void qk__ring_lower(qk_ring_state *r, unsigned i, const qk_window *w, uint64_t to)
{
    uint64_t *b = r->bucket[i];
    const uint64_t closed = qk__ring_closed(r, i);
    const uint64_t current = w->used > closed ? w->used - closed : 0;
    uint64_t take = w->used - to;
    take -= take < current ? take : current;
    const int64_t h = qk__ring_head(w);
    for (int64_t j = h - 1; take > 0 && j >= h - QK_RING_BUCKETS; j--) {
        const unsigned k = index_of(j);
        const uint64_t t = b[k] < take ? b[k] : take;
        b[k] -= t;
        take -= t;
    }
}

int64_t qk__ring_fits_at(const qk_ring_state *r, unsigned i, const qk_window *w, uint64_t fit)
{
    const int64_t g = qk__ring_bucket_ms(w);
    const int64_t h = qk__ring_head(w);
    if (w->used <= fit)
        return w->start_ms; /* already fits: any time now */
    const uint64_t need = w->used - fit;
    uint64_t gone = 0;
    /* Bucket j leaves when bucket j + 51 begins. */
    for (int64_t j = h - QK_RING_BUCKETS; j < h; j++) {
        gone += r->bucket[i][index_of(j)];
        if (gone >= need)
            return (j + QK_RING_BUCKETS + 1) * g;
    }
    return (h + QK_RING_BUCKETS + 1) * g; /* the current bucket's calls too */
}
