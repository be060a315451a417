#include <string.h>

#include "service_def.h"
#include "slot.h"

void qk__slot_level_changed(qk_slot *sl, qk_service s, unsigned i, qk_level to, qk_event_sink *sink)
{
    qk_window *w = &sl->w[i];
    const uint64_t seq = ++sl->seq;
    if (sink->ev != NULL) {
        qk_event *e = &sink->ev[sink->n++];
        e->service = s;
        e->name = NULL; /* filled in outside the lock */
        e->window = i;
        e->from = (qk_level)w->level;
        e->to = to;
        e->used = w->used;
        e->limit = w->limit;
        e->window_start_ms = w->start_ms;
        e->seq = seq;
        e->kind = QK_EVENT_LEVEL;
    }
    w->level = (uint8_t)to;
}

static int any_rolling(const qk_window *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (w[i].flags & QK_WINDOW_ROLLING)
            return 1;
    return 0;
}

/* Whether a ring may be trusted: checked before any slide reads it. */
static int ring_sound(const qk_ring_set *rs)
{
    return rs != NULL && rs->seal == qk__ring_seal_of(&rs->live);
}

static void ring_reseal(qk_ring_set *rs)
{
    rs->seal = qk__ring_seal_of(&rs->live);
}

int qk__slot_roll_ended(qk_slot *sl, const qk_slot_ext *ext, qk_service s, int64_t now_ms,
                        qk_event_sink *sink)
{
    qk_ring_set *rs = ext != NULL && ext->rings != NULL ? &ext->rings[s] : NULL;
    const qk_zone_table *zt = ext != NULL ? ext->zones : NULL;
    /* Everything that can refuse is checked first, so a refusal changes nothing: a rolling
     * window slid before a later window's zone was found bad would leave the slot half-rolled
     * and its ring journaled but never sealed again. */
    int sliding = 0;
    for (unsigned i = 0; i < sl->n_windows; i++) {
        const qk_window *w = &sl->w[i];
        if (!qk__window_ended(w, now_ms))
            continue;
        if (w->flags & QK_WINDOW_ROLLING) {
            sliding = 1;
        } else if (w->zone != 0) {
            const qk__zone *z = qk__zones_get(zt, w->zone);
            if (z == NULL || qk__tz_check(z) != 0)
                return 1; /* a zone the table lacks, or a damaged one: the check refuses both */
        }
    }
    if (sliding) {
        if (!ring_sound(rs))
            return 1;
        qk__ring_journal(rs, sl->journal);
    }
    for (unsigned i = 0; i < sl->n_windows; i++) {
        qk_window *w = &sl->w[i];
        if (!qk__window_ended(w, now_ms))
            continue;
        if (w->flags & QK_WINDOW_ROLLING) {
            qk__slot_set_used(sl, s, i, qk__ring_slide(&rs->live, i, w, now_ms), sink);
        } else if (w->zone != 0) {
            const qk__zone *z = qk__zones_get(zt, w->zone); /* checked above */
            qk__span_zoned(z, (qk_period)w->period, qk__window_every(w), now_ms, &w->start_ms,
                           &w->end_ms);
            qk__slot_set_used(sl, s, i, 0, sink);
        } else if (qk__window_roll(w, now_ms)) {
            qk__slot_set_used(sl, s, i, 0, sink);
        }
    }
    if (sliding)
        ring_reseal(rs);
    return 0;
}

void qk__slot_lower_rolling(qk_slot *sl, const qk_slot_ext *ext, qk_service s, unsigned i,
                            uint64_t to, qk_event_sink *sink)
{
    qk_ring_set *rs = ext != NULL && ext->rings != NULL ? &ext->rings[s] : NULL;
    /* An unsound ring is refused at the next slide; the count falls all the same. */
    if (ring_sound(rs)) {
        qk__ring_journal(rs, sl->journal);
        qk__ring_lower(&rs->live, i, &sl->w[i], to);
        ring_reseal(rs);
    }
    qk__slot_set_used(sl, s, i, to, sink);
}

void qk__slot_usage(const qk_slot *sl, qk_service s, int tripped, qk_usage *out)
{
    unsigned binding = 0;
    qk_level level = QK_LEVEL_OK;
    out->service = s;
    out->tripped = tripped;
    out->n_windows = sl->n_windows;
    for (unsigned i = 0; i < sl->n_windows; i++) {
        const qk_window *w = &sl->w[i];
        qk_window_usage *u = &out->windows[i];
        u->period = (qk_period)w->period;
        u->limit = w->limit;
        u->used = w->used;
        u->remaining = w->used >= w->limit ? 0 : w->limit - w->used;
        u->window_start_ms = w->start_ms;
        u->reset_at_ms = w->end_ms;
        u->level = (qk_level)w->level;
        if (u->level > level)
            level = u->level;
        if (u->remaining < out->windows[binding].remaining)
            binding = i;
    }
    if (tripped >= 0)
        binding = (unsigned)tripped;
    out->level = level;
    out->remaining = out->windows[binding].remaining;
    out->reset_at_ms = out->windows[binding].reset_at_ms;
}

void qk__slot_usage_refused(const qk_slot *sl, const qk_ring_set *rs, int tripped, uint64_t n,
                            unsigned flags, qk_usage *out)
{
    if (rs == NULL || tripped < 0 || !any_rolling(sl->w, sl->n_windows))
        return; /* fixed windows only: the tripped window's end, as it always was */
    /* The consume fits once it fits in every window that refuses it now: the latest of the
     * times each does, a rolling window's when enough of its oldest buckets have left. */
    int64_t fits = INT64_MIN;
    for (unsigned i = 0; i < sl->n_windows; i++) {
        const qk_window *w = &sl->w[i];
        if (!qk__window_refuses(sl, w, n, flags))
            continue;
        int64_t at = w->end_ms;
        if (w->flags & QK_WINDOW_ROLLING) {
            const uint64_t cap = (flags & QK_PRIORITY) ? w->limit : w->limit - sl->reserve;
            /* n above the cap never fits: the time every call counted now has left. */
            at = qk__ring_fits_at(&rs->live, i, w, n > cap ? 0 : cap - n);
            if (n > cap && at < w->end_ms)
                at = w->end_ms; /* never fits: at least not in the past */
            out->windows[i].reset_at_ms = at;
        }
        if (at > fits)
            fits = at;
    }
    out->reset_at_ms = fits;
}

void qk__slot_recover(qk_slot *sl, qk_ring_set *rs, uint64_t committed_epoch)
{
    if ((sl->journal & 1u) == 0)
        return;
    const int committed = sl->undo_epoch != 0 && sl->undo_epoch <= committed_epoch;
    if (rs != NULL && rs->undo_journal == sl->journal) {
        if (!committed)
            memcpy(&rs->live, &rs->undo, sizeof rs->live);
        rs->undo_journal = 0;
        ring_reseal(rs);
    }
    if (!committed) {
        sl->seq = sl->undo_seq;
        sl->reserve = sl->undo_reserve;
        sl->n_windows = sl->undo_n_windows;
        for (unsigned i = 0; i < sl->undo_n_windows; i++)
            sl->w[i] = sl->undo[i];
    }
    qk__slot_end(sl);
}

int qk__slot_configure(qk_slot *sl, const qk_slot_ext *ext, qk_service s, const qk_service_def *def,
                       unsigned n_windows, const uint8_t *zone_nos, int64_t now_ms,
                       qk_event_sink *sink)
{
    qk_ring_set *rs = ext != NULL && ext->rings != NULL ? &ext->rings[s] : NULL;
    const unsigned old_n = sl->n_windows <= QK_MAX_WINDOWS ? sl->n_windows : 0;
    /* The old windows' buckets are carried to the new ones and sealed again: a ring that fails
     * its seal must not be taken as good. Checked before anything changes. */
    if (any_rolling(sl->w, old_n) && !ring_sound(rs))
        return QK_ECORRUPT;
    qk_window old[QK_MAX_WINDOWS];
    for (unsigned i = 0; i < old_n; i++)
        old[i] = sl->w[i];
    /* Buckets follow their window to its new index; the ring is touched only where a window is
     * or was rolling, so a fixed service's ring stays as it was (all zeros). */
    int rings = 0;
    for (unsigned j = 0; j < n_windows; j++)
        rings |= (def->windows[j].flags & QK_WINDOW_ROLLING) != 0;
    rings = rs != NULL && (rings || any_rolling(old, old_n));
    qk_ring_state old_ring;
    if (rings) {
        qk__ring_journal(rs, sl->journal);
        memcpy(&old_ring, &rs->live, sizeof old_ring);
        memset(&rs->live, 0, sizeof rs->live);
    }
    for (unsigned j = 0; j < n_windows; j++) {
        qk_window *w = &sl->w[j];
        const unsigned zone_no = zone_nos != NULL ? zone_nos[j] : 0;
        const qk__zone *z = qk__zones_get(ext != NULL ? ext->zones : NULL, zone_no);
        qk__window_init(w, &def->windows[j], qk__warn_pct(def), qk__critical_pct(def), now_ms, z,
                        z != NULL ? zone_no : 0);
        /* A redefinition keeps the count of the window of the same shape (already rolled to
         * the current period by the caller): counts are never dropped for a limit change. The
         * window at the same index is asked first, so two windows of one shape (a set_used can
         * make their counts differ) keep their own counts. */
        int from =
            j < old_n && qk__window_same_shape(&old[j], &def->windows[j], w->zone) ? (int)j : -1;
        for (unsigned i = 0; from < 0 && i < old_n; i++)
            if (qk__window_same_shape(&old[i], &def->windows[j], w->zone))
                from = (int)i;
        if (from >= 0) {
            w->used = old[from].used;
            w->start_ms = old[from].start_ms;
            w->end_ms = old[from].end_ms;
            if (rings && (w->flags & QK_WINDOW_ROLLING))
                memcpy(rs->live.bucket[j], old_ring.bucket[from], sizeof old_ring.bucket[from]);
        }
        w->level = j < old_n ? old[j].level : (uint8_t)QK_LEVEL_OK;
        qk__slot_set_used(sl, s, j, w->used,
                          sink); /* one event if the new limit changed the level */
    }
    sl->n_windows = n_windows;
    sl->reserve = def->reserve;
    if (rings)
        ring_reseal(rs);
    return QK_OK;
}
