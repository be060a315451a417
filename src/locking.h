/* The lock wrappers: every lock a tracker takes goes through here, so the lock-order checker
 * sees every acquisition and a state file's dead owners are always recovered (by the region,
 * which knows what each lock guards). Order: the snapshot lock, then slot locks by ascending
 * index (docs/design.md). */
#ifndef QK_LOCKING_H
#define QK_LOCKING_H

#include "lockorder.h"
#include "region.h"

static inline int lock_recovering(qk_region *r, pthread_mutex_t *m, qk_slot *sl)
{
    const int rc = pthread_mutex_lock(m);
    return __builtin_expect(rc == 0, 1) ? QK_OK : qk__region_lock_failed(r, m, sl, rc);
}

static inline int slot_lock(qk_region *r, qk_service s)
{
    qk__lockorder_acquire(QK_RANK_SLOT(s));
    const int rc = lock_recovering(r, &r->slots[s].lock, &r->slots[s]);
    if (rc != QK_OK)
        qk__lockorder_release(QK_RANK_SLOT(s));
    return rc;
}

static inline void slot_unlock(qk_region *r, qk_service s)
{
    pthread_mutex_unlock(&r->slots[s].lock);
    qk__lockorder_release(QK_RANK_SLOT(s));
}

/* slot_lock for a call that will change the slot: in a state file its seal is checked first, so
 * a word changed outside the library is refused (QK_ECORRUPT) rather than sealed again. */
static inline int slot_lock_sealed(qk_region *r, qk_service s)
{
    int rc = slot_lock(r, s);
    if (rc == QK_OK && r->fd >= 0 && (rc = qk__region_check_seal(r, s)) != QK_OK)
        slot_unlock(r, s);
    return rc;
}

static inline int snapshot_lock(qk_region *r)
{
    qk__lockorder_acquire(QK_RANK_SNAPSHOT);
    const int rc = lock_recovering(r, &r->hdr->snapshot_lock, NULL);
    if (rc != QK_OK)
        qk__lockorder_release(QK_RANK_SNAPSHOT);
    return rc;
}

static inline void snapshot_unlock(qk_region *r)
{
    pthread_mutex_unlock(&r->hdr->snapshot_lock);
    qk__lockorder_release(QK_RANK_SNAPSHOT);
}

/* Takes the first n slot locks in ascending order; the caller holds the snapshot lock. */
static inline int lock_slots(qk_region *r, uint32_t n)
{
    for (uint32_t s = 0; s < n; s++) {
        const int rc = slot_lock(r, s);
        if (rc != QK_OK) {
            while (s-- > 0)
                slot_unlock(r, s);
            return rc;
        }
    }
    return QK_OK;
}

static inline int lock_all(qk_region *r, uint32_t n)
{
    int rc = snapshot_lock(r);
    if (rc == QK_OK && (rc = lock_slots(r, n)) != QK_OK)
        snapshot_unlock(r);
    return rc;
}

static inline void unlock_all(qk_region *r, uint32_t n)
{
    for (uint32_t s = n; s-- > 0;)
        slot_unlock(r, s);
    snapshot_unlock(r);
}

#endif
