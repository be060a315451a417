/* The tracker: a handle on a state region plus this process's settings. */
#ifndef QK_TRACKER_H
#define QK_TRACKER_H

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

#endif
