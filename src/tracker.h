/* The tracker: a handle on a state region plus this process's settings. */
#ifndef QK_TRACKER_H
#define QK_TRACKER_H

#include <stdatomic.h>

#include "region.h"

struct qk_tracker {
    qk_slot *slots;             /* region.slots: capacity slots, each in its own 128-byte block */
    char (*names)[QK_NAME_MAX]; /* region.names: read-mostly, apart from the hot slots */
    uint32_t capacity;
    int journal; /* the region is a shared file: journal every update (slot.h) */
    int64_t (*clock)(void *clock_ctx);
    void *clock_ctx;
    qk_event_fn on_event;
    void *payload;
    qk_region region;
};

/* The default clock: CLOCK_REALTIME_COARSE, in ms since the epoch. */
int64_t qk__system_clock_ms(void *ctx);

/* The clock, read with no lock held. The default is read inline: an indirect call would cost
 * a tenth of a record. */
static inline int64_t qk__read_clock(const qk_tracker *t)
{
    if (t->clock != qk__system_clock_ms)
        return t->clock(t->clock_ctx);
    return qk__system_clock_ms(NULL);
}

/* Services registered so far; a slot below it is fully initialised (acquire pairs with the
 * release that published it). */
static inline uint32_t qk__published(const qk_tracker *t)
{
    return atomic_load_explicit(&t->region.hdr->n_services, memory_order_acquire);
}

/* Outside every lock: names the events and hands them to the callback. */
void qk__deliver(qk_tracker *t, qk_event *ev, size_t n);

/* Index of the service called name among the first n, or -1. */
int qk__find_name(const qk_tracker *t, const char *name, uint32_t n);

/* Fills unpublished slot n and publishes it; the caller holds the snapshot lock (or is alone
 * with a new file) and has checked def, the name's uniqueness and the room. */
void qk__add_locked(qk_tracker *t, const qk_service_def *def, unsigned n_windows, int64_t now);

#endif
