/* The store engine's life and its public report (engine.h): attach, detach, status. Its other
 * jobs have their files: the guard under the slot lock (guard.c), one sync and who asks for it
 * (sync.c), the background thread (thread.c). The engine never sees the tracker: only the
 * context it was given at attach. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "locking.h"
#include "store/sync.h"

int qk__store_status(qk__store *st, qk_store_info *out)
{
    if (out->version != QK_STORE_INFO_VERSION)
        return qk__fail(QK_EINVAL, "qk_store_info version %u is not supported (this library: %d)",
                        out->version, QK_STORE_INFO_VERSION);
    const uint32_t n = qk__region_published(st->ctx.region);
    for (qk_service s = 0; out->services != NULL && s < n && s < out->cap; s++) {
        qk_store_service_info *si = &out->services[s];
        const int rc = slot_lock(st->ctx.region, s);
        if (rc != QK_OK)
            return rc;
        const qk_slot *sl = &st->ctx.region->slots[s];
        const qk__store_slot *ss = &st->area.slots[s];
        si->service = s;
        si->n_windows = sl->n_windows;
        for (unsigned i = 0; i < sl->n_windows; i++) {
            const qk__lease *l = &ss->cur[i];
            qk_store_window_info *w = &si->windows[i];
            w->period = (qk_period)sl->w[i].period;
            w->window_start_ms = sl->w[i].start_ms;
            w->held = qk__lease_left(l);
            w->unsynced = qk__lease_unsynced(l) + qk__lease_unsynced(&ss->prev[i]);
            w->fleet_used = l->fleet_used;
            w->fleet_limit = l->limit;
            w->overdraft = l->fleet_granted > l->limit ? l->fleet_granted - l->limit : 0;
        }
        slot_unlock(st->ctx.region, s);
    }
    pthread_mutex_lock(&st->mu);
    const qk__store_health *h = &st->area.hdr->health;
    out->degraded = (int)atomic_load(&h->degraded);
    out->consecutive_failures = atomic_load(&h->fails);
    out->consecutive_successes = atomic_load(&h->oks);
    out->failures = atomic_load(&h->total_fails);
    out->syncs = atomic_load(&h->total_oks) + out->failures;
    snprintf(out->last_error, sizeof out->last_error, "%s", st->last_error);
    pthread_mutex_unlock(&st->mu);
    out->clock_offset_ms = atomic_load(&st->offset_ms);
    memcpy(out->host_id, st->area.hdr->host_id, sizeof out->host_id - 1);
    out->host_id[sizeof out->host_id - 1] = '\0';
    out->count = n;
    return QK_OK;
}

/* ---- opening and closing ---- */

int qk__store_attach(qk__store **out, const qk__store_ctx *ctx, const qk_options *o,
                     const qk__checked_def *defs, size_t n_defs)
{
    qk__store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return qk__fail(QK_ENOMEM, "no memory for the store");
    qk__store_url url;
    int rc = qk__store_check(o->store, &st->backend, &url);
    st->url = url;
    explicit_bzero(&url, sizeof url);
    st->ctx = *ctx;
    st->timeout_ms = o->store_timeout_ms ? o->store_timeout_ms : 100;
    const uint32_t capacity = ctx->region->hdr->capacity;
    st->outage = calloc(capacity, sizeof *st->outage);
    st->lease_max = calloc(capacity, sizeof *st->lease_max);
    st->n_sync_locks = capacity < QK__SYNC_LOCKS_MAX ? capacity : QK__SYNC_LOCKS_MAX;
    st->sync_locks = calloc(st->n_sync_locks, sizeof *st->sync_locks);
    if (rc == QK_OK && (st->outage == NULL || st->lease_max == NULL || st->sync_locks == NULL))
        rc = qk__fail(QK_ENOMEM, "no memory for the store's settings");
    if (rc == QK_OK)
        rc = qk__store_area_open(&st->area, st->ctx.region);
    if (rc != QK_OK) {
        free(st->outage);
        free(st->lease_max);
        free(st->sync_locks);
        explicit_bzero(&st->url, sizeof st->url);
        free(st);
        return rc;
    }
    for (size_t i = 0; i < n_defs; i++) {
        const int s =
            qk__region_find_name(ctx->region, defs[i].def.name, qk__region_published(ctx->region));
        if (s >= 0) {
            st->outage[s] = defs[i].def.outage;
            st->lease_max[s] = defs[i].def.lease_max;
        }
    }
    pthread_mutex_init(&st->mu, NULL);
    for (size_t i = 0; i < st->n_sync_locks; i++)
        pthread_mutex_init(&st->sync_locks[i], NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&st->wake, &ca);
    pthread_condattr_destroy(&ca);
    *out = st;
    return QK_OK;
}

void qk__store_detach(qk__store *st)
{
    if (st == NULL)
        return;
    if (st->thread_started) {
        qk__store_thread_stop(st);
        /* The last word: counts sent, unused leases back, within one timeout. */
        qk__store_sync_all(st, qk__store_now_ms() + st->timeout_ms, 1);
    }
    for (size_t i = 0; i < st->n_idle; i++)
        st->backend->close(st->idle[i]);
    qk__store_area_close(&st->area);
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->mu);
    for (size_t i = 0; i < st->n_sync_locks; i++)
        pthread_mutex_destroy(&st->sync_locks[i]);
    free(st->sync_locks);
    free(st->outage);
    free(st->lease_max);
    explicit_bzero(&st->url, sizeof st->url); /* a wipe the optimiser keeps */
    free(st);
}
