/* The tracker: a handle on a state region plus this process's settings. */
#ifndef QK_TRACKER_H
#define QK_TRACKER_H

#include <stdatomic.h>

#include "calendar.h"
#include "region.h"
#include "service_def.h"
#include "store/engine.h"

/* What sets a tracker apart from a private one, as bits of qk_tracker.mode. The hot path tests
 * mode once, where it used to test for a journal: a private tracker runs the instructions it ran
 * before any of these existed (docs/design.md). */
enum {
    QK__MODE_SHARED = 1u << 0,   /* the region is a state file: journal every update (slot.h) */
    QK__MODE_READONLY = 1u << 1, /* QK_OPEN_READONLY: refuse every change, roll only copies */
    QK__MODE_STORE = 1u << 2,    /* a shared store: consumes go through the leases (store/) */
    QK__MODE_STORE_SYSCLOCK = 1u << 3, /* and the built-in clock: its reading is inlined */
};

struct qk__store;

struct qk_tracker {
    qk_slot *slots;             /* region.slots: capacity slots, each in its own 128-byte block */
    char (*names)[QK_NAME_MAX]; /* region.names: read-mostly, apart from the hot slots */
    uint32_t capacity;
    unsigned mode;        /* QK__MODE_* bits; 0 for a private tracker */
    unsigned api_version; /* the caller's qk_options.version: its layouts of defs and events */
    int64_t (*clock)(void *clock_ctx);
    void *clock_ctx;
    qk_event_fn on_event;
    void *payload;
    qk_region region;
    struct qk__store *store; /* NULL without a store */
    /* The definitions qk_tracker_new was given, read at the caller's stride and validated once;
     * kept for the tracker's life (the store reads their outage and lease settings). */
    size_t n_configured;
    qk__checked_def configured[];
};

/* The clock, read with no lock held. The default is read inline: an indirect call would cost
 * a tenth of a record. */
static inline int64_t qk__read_clock(const qk_tracker *t)
{
    if (t->clock != qk__system_clock_ms)
        return t->clock(t->clock_ctx);
    return qk__system_now_ms();
}

/* The tracker's clock: the caller's (or the system's) plus, with a store, the store's offset
 * (qk__store_clock_of, the one place it is added). Read with no lock held. */
static inline int64_t qk__tracker_now(const qk_tracker *t)
{
    const int64_t raw = qk__read_clock(t);
    return t->store != NULL ? qk__store_clock_of(t->store, raw) : raw;
}

/* Services registered so far; a slot below it is fully initialised (acquire pairs with the
 * release that published it). */
static inline uint32_t qk__published(const qk_tracker *t)
{
    return qk__region_published(&t->region);
}

/* Outside every lock: names the events and hands them to the callback. */
void qk__deliver(qk_tracker *t, qk_event *ev, size_t n);

/* qk_try_consume without the check of the public flag bits: the store's second try. */
int qk__consume(qk_tracker *t, qk_service s, uint64_t n, unsigned flags, qk_usage *out);

/* Index of the service called name among the first n, or -1. */
int qk__find_name(const qk_tracker *t, const char *name, uint32_t n);

/* Whether def's rolling and zoned windows can be counted here: only in a region at layout 3 (a
 * private one, or a state file that is). QK_OK or QK_EINVAL with why. */
int qk__shapes_supported(const qk_tracker *t, const qk_service_def *def);

/* Zones read for a tracker's definitions, before they are published in its zone table. */
typedef struct {
    qk__zone *zone;
    uint32_t n;
} qk__zones_loaded;

/* Reads every zone defs[0..n) name that `have` (NULL: none) lacks, with no lock held (file
 * I/O). QK_EINVAL (a zone the database lacks, a bad name), QK_EIO (no database), QK_ENOMEM,
 * QK_EFULL (more than QK_ZONES_MAX zones), QK_ECORRUPT (a damaged zone file). */
int qk__zones_load(qk__zones_loaded *out, const qk__checked_def *defs, size_t n,
                   const qk_zone_table *have);
void qk__zones_loaded_free(qk__zones_loaded *l);

/* Appends the loaded zones the region's table lacks, under the snapshot lock (taken here unless
 * snapshot_held), then sets each zoned window's zone number and points its tz at the table's
 * name. QK_EFULL (the table is full), a lock's QK_ECORRUPT. */
int qk__zones_publish(qk_tracker *t, qk__checked_def *defs, size_t n, const qk__zones_loaded *l,
                      int snapshot_held);

/* Fills unpublished slot n and publishes it; the caller holds the snapshot lock (or is alone
 * with a new file) and has checked def, the name's uniqueness and the room. */
void qk__add_locked(qk_tracker *t, const qk__checked_def *d, int64_t now);

#endif
