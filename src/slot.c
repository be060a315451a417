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

void qk__slot_roll_ended(qk_slot *sl, qk_service s, int64_t now_ms, qk_event_sink *sink)
{
    for (unsigned i = 0; i < sl->n_windows; i++)
        if (qk__window_ended(&sl->w[i], now_ms) && qk__window_roll(&sl->w[i], now_ms))
            qk__slot_set_used(sl, s, i, 0, sink);
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

void qk__slot_recover(qk_slot *sl, uint64_t committed_epoch)
{
    if ((sl->journal & 1u) == 0)
        return;
    const int committed = sl->undo_epoch != 0 && sl->undo_epoch <= committed_epoch;
    if (!committed) {
        sl->seq = sl->undo_seq;
        sl->reserve = sl->undo_reserve;
        sl->n_windows = sl->undo_n_windows;
        for (unsigned i = 0; i < sl->undo_n_windows; i++)
            sl->w[i] = sl->undo[i];
    }
    qk__slot_end(sl);
}

void qk__slot_configure(qk_slot *sl, qk_service s, const qk_service_def *def, unsigned n_windows,
                        int64_t now_ms, qk_event_sink *sink)
{
    const unsigned old_n = sl->n_windows;
    qk_window old[QK_MAX_WINDOWS];
    for (unsigned i = 0; i < old_n; i++)
        old[i] = sl->w[i];
    for (unsigned j = 0; j < n_windows; j++) {
        qk_window *w = &sl->w[j];
        qk__window_init(w, &def->windows[j], qk__warn_pct(def), qk__critical_pct(def), now_ms);
        /* A redefinition keeps the count of the window of the same shape (already rolled to
         * the current period by the caller): counts are never dropped for a limit change. */
        for (unsigned i = 0; i < old_n; i++)
            if (qk__window_same_shape(&old[i], &def->windows[j])) {
                w->used = old[i].used;
                w->start_ms = old[i].start_ms;
                w->end_ms = old[i].end_ms;
                break;
            }
        w->level = j < old_n ? old[j].level : (uint8_t)QK_LEVEL_OK;
        qk__slot_set_used(sl, s, j, w->used,
                          sink); /* one event if the new limit changed the level */
    }
    sl->n_windows = n_windows;
    sl->reserve = def->reserve;
}
