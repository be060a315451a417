/* A region's zone table (layout 3): the zones its windows' tz names, compiled by qk__tz_load
 * (tz.h) outside every lock and appended under the snapshot lock. An entry is immutable once
 * n_zones (release) publishes it, so a boundary is computed under a slot lock with no I/O, and
 * its name stays valid for the region's life. Pointer-free: it lives in the state file. */
#ifndef QK_ZONE_TABLE_H
#define QK_ZONE_TABLE_H

#include <stdatomic.h>

#include "tz.h"

/* Zones one region holds; qk_window.zone is 1 + an index (0: UTC). */
#define QK_ZONES_MAX 16

typedef struct {
    _Atomic uint32_t n_zones;
    uint32_t reserved;
    qk__zone zone[QK_ZONES_MAX];
} qk_zone_table;

/* Published zones. */
static inline uint32_t qk__zones_published(const qk_zone_table *zt)
{
    const uint32_t n = atomic_load_explicit(&zt->n_zones, memory_order_acquire);
    return n <= QK_ZONES_MAX ? n : QK_ZONES_MAX;
}

/* Index of the published zone called name, or -1. */
int qk__zones_find(const qk_zone_table *zt, const char *name);

/* The zone of window zone number `zone` (1 + index), or NULL when there is none such. */
static inline const qk__zone *qk__zones_get(const qk_zone_table *zt, unsigned zone)
{
    return zt != NULL && zone >= 1 && zone <= qk__zones_published(zt) ? &zt->zone[zone - 1] : NULL;
}

#endif
