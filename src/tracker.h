/* The tracker's private layout. The slots and names arrays hold no pointers, so they can move
 * into memory shared between processes without changing the code that uses them. */
#ifndef QK_TRACKER_H
#define QK_TRACKER_H

#include <stdatomic.h>

#include "slot.h"

struct qk_tracker {
    qk_slot *slots;              /* capacity slots, each in its own 128-byte block */
    char (*names)[QK_NAME_MAX];  /* read-mostly, apart from the hot slots */
    _Atomic uint32_t n_services; /* published with release once a slot is ready */
    uint32_t capacity;
    int64_t (*clock)(void *clock_ctx);
    void *clock_ctx;
    qk_event_fn on_event;
    void *payload;
    pthread_mutex_t snapshot_lock; /* serialises all-slot passes and service_add */
};

#endif
