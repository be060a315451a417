/* Debug-build lock-order checker (in the manner of jemalloc's witness). Every lock has a rank:
 * the snapshot lock is QK_RANK_SNAPSHOT, slot i is QK_RANK_SLOT(i). A thread must take locks in
 * strictly increasing rank, and may hold two slot locks only while it holds the snapshot lock.
 * Any breach aborts naming both locks. Without QK_LOCK_CHECKS it compiles to nothing. */
#ifndef QK_LOCKORDER_H
#define QK_LOCKORDER_H

#include <stdint.h>

#define QK_RANK_SNAPSHOT INT64_C(-1)
#define QK_RANK_SLOT(i)  ((int64_t)(i))

#ifdef QK_LOCK_CHECKS
void qk__lockorder_acquire(int64_t rank);
void qk__lockorder_release(int64_t rank);
#else
static inline void qk__lockorder_acquire(int64_t rank)
{
    (void)rank;
}
static inline void qk__lockorder_release(int64_t rank)
{
    (void)rank;
}
#endif

#endif
