/* The lock wrappers: every lock the tracker takes goes through here, so the lock-order checker
 * sees every acquisition and a state file's dead owners are always recovered. Order: the
 * snapshot lock, then slot locks by ascending index (docs/design.md). */
#ifndef QK_LOCKING_H
#define QK_LOCKING_H

#include "lockorder.h"
#include "tracker.h"

/* After pthread_mutex_lock failed: when the last owner of m died holding it (robust mutexes in
 * a state file), repairs what it guarded and makes m usable again. Out of line: private
 * mutexes never get here. */
int qk__lock_failed(qk_tracker *t, pthread_mutex_t *m, qk_slot *sl, int rc);

static inline int lock_recovering(qk_tracker *t, pthread_mutex_t *m, qk_slot *sl)
{
    const int rc = pthread_mutex_lock(m);
    return __builtin_expect(rc == 0, 1) ? QK_OK : qk__lock_failed(t, m, sl, rc);
}

static inline int slot_lock(qk_tracker *t, qk_service s)
{
    qk__lockorder_acquire(QK_RANK_SLOT(s));
    const int rc = lock_recovering(t, &t->slots[s].lock, &t->slots[s]);
    if (rc != QK_OK)
        qk__lockorder_release(QK_RANK_SLOT(s));
    return rc;
}

static inline void slot_unlock(qk_tracker *t, qk_service s)
{
    pthread_mutex_unlock(&t->slots[s].lock);
    qk__lockorder_release(QK_RANK_SLOT(s));
}

static inline int snapshot_lock(qk_tracker *t)
{
    qk__lockorder_acquire(QK_RANK_SNAPSHOT);
    const int rc = lock_recovering(t, &t->region.hdr->snapshot_lock, NULL);
    if (rc != QK_OK)
        qk__lockorder_release(QK_RANK_SNAPSHOT);
    return rc;
}

static inline void snapshot_unlock(qk_tracker *t)
{
    pthread_mutex_unlock(&t->region.hdr->snapshot_lock);
    qk__lockorder_release(QK_RANK_SNAPSHOT);
}

/* Takes the first n slot locks in ascending order; the caller holds the snapshot lock. */
static inline int lock_slots(qk_tracker *t, uint32_t n)
{
    for (uint32_t s = 0; s < n; s++) {
        const int rc = slot_lock(t, s);
        if (rc != QK_OK) {
            while (s-- > 0)
                slot_unlock(t, s);
            return rc;
        }
    }
    return QK_OK;
}

static inline int lock_all(qk_tracker *t, uint32_t n)
{
    int rc = snapshot_lock(t);
    if (rc == QK_OK && (rc = lock_slots(t, n)) != QK_OK)
        snapshot_unlock(t);
    return rc;
}

static inline void unlock_all(qk_tracker *t, uint32_t n)
{
    for (uint32_t s = n; s-- > 0;)
        slot_unlock(t, s);
    snapshot_unlock(t);
}

#endif
