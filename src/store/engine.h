/* The store engine: a tracker's side of the fleet protocol. It keeps each service's leases (in
 * the store area: private memory, or appended to the state file so every process of the host
 * shares them), applies consumes against them under the slot lock, and syncs with the store
 * outside every lock, from a background thread, from qk_store_sync, and from a consume whose
 * lease ran out (docs/store.md). */
#ifndef QK_STORE_ENGINE_H
#define QK_STORE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "calendar.h"
#include "region.h"
#include "service_def.h"
#include "store/area.h"
#include "store/lease.h"
#include "store/store.h"

typedef struct qk__store qk__store;

/* What the engine knows of the tracker that owns it, given at attach: pointers down (the region:
 * its slots, names and published count) and one callback up, as libuv's poller reaches a handle
 * only through the callback the handle stored. The engine never sees the tracker. */
typedef struct {
    qk_region *region;
    int shared;                  /* the region is a state file: every update is journaled */
    int64_t (*clock)(void *ctx); /* the caller's clock; NULL: the system's */
    void *clock_ctx;
    /* Hands the events of a sync (level changes, the store's state) to the owner's callback;
     * called with no lock held, from the sync thread or a consume's thread. */
    void (*deliver)(void *owner, qk_event *ev, size_t n);
    void *owner;
} qk__store_ctx;

struct qk__store {
    const qk__store_backend *backend;
    qk__store_url url;
    int64_t timeout_ms;
    qk__store_area area;
    _Atomic int64_t offset_ms; /* store clock - host clock, last measured */
    qk__store_ctx ctx;
    /* One sync of a service at a time (per process): taken with no tracker lock held, and slot
     * locks are taken inside it, never the other way round; nothing is delivered under it. */
    pthread_mutex_t *sync_locks;
    size_t n_sync_locks;
    qk_outage *outage;   /* per slot: the configured policy (QK_OUTAGE_SAFE if not configured) */
    uint64_t *lease_max; /* per slot: the configured cap (0: adaptive) */
    /* Everything below is guarded by mu (the host's health is in the area, atomic), a leaf: never
     * held while a tracker lock is taken. */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int wake_pending, stopping;
    pthread_t thread;
    int thread_started;
    char last_error[256];
    qk__store_conn *idle[4]; /* connections not in use; each used by one thread at a time */
    size_t n_idle;
};

/* Stripes of the per-service sync locks. */
#define QK__SYNC_LOCKS_MAX 256

/* Internal qk_try_consume flags for the try after a sync. */
#define QK__CONSUME_AFTER_SYNC   (1u << 29) /* the store answered: short means the fleet is full */
#define QK__CONSUME_STORE_FAILED (1u << 30) /* it did not: the outage policy decides */

/* Sets up a store for the owner described by ctx, from the options (the URL was checked) and
 * the owner's service definitions (their outage policies and lease caps): the area (under the
 * state file's open lock, which the caller holds). QK_ENOMEM, QK_EIO, QK_ECORRUPT. */
int qk__store_attach(qk__store **out, const qk__store_ctx *ctx, const qk_options *o,
                     const qk__checked_def *defs, size_t n_defs);
/* Starts the sync thread once the tracker is open. QK_ENOMEM. */
int qk__store_start(qk__store *st);
/* Gives back unused leases and sends the last counts (bounded by the timeout), stops the
 * thread, frees everything. NULL is a no-op. */
void qk__store_detach(qk__store *st);

/* The store's clock from a reading of the caller's (or the system's): the one place the offset
 * measured at each sync is added. */
static inline int64_t qk__store_clock_of(const qk__store *st, int64_t raw_ms)
{
    return raw_ms + atomic_load_explicit(&((qk__store *)st)->offset_ms, memory_order_relaxed);
}

/* The resolution of the store's clock in ms (qk__store_backend.clock_ms; 0 read as 1). */
static inline int64_t qk__store_clock_res(const qk__store *st)
{
    return st->backend->clock_ms > 1 ? st->backend->clock_ms : 1;
}

/* After QK__SINK_NEED_SYNC: syncs service s for n more calls and, in the same hold of the slot
 * lock that merges the answer, tries the consume again (now: the tracker's clock). Returns 1
 * when answered, with *rc QK_OK or QK_ELIMIT (out, if not NULL, filled but for its name); 0
 * otherwise, with *again the flags the caller's own next try must carry (the outage policy
 * decides it). */
int qk__store_sync_for_consume(qk__store *st, qk_service s, uint64_t n, unsigned flags, int64_t now,
                               qk_usage *out, int *rc, unsigned *again);
/* Wakes the sync thread (no lock held). */
void qk__store_wake(qk__store *st);
/* qk_store_sync and qk_store_status, for the tracker's public calls. */
int qk__store_sync(qk__store *st);
int qk__store_status(qk__store *st, qk_store_info *out);

#endif
