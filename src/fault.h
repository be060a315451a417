/* A mapped state file that shrinks under the process (docs/state-file.md, "Damage under a live
 * process"). Every access past the file's new end raises SIGBUS, which would kill the process.
 * A watched mapping is instead replaced, by the signal handler, with private zero pages, and
 * marked lost: the access that faulted completes on zeros, and the tracker then fails that
 * operation and every later one with QK_ECORRUPT.
 *
 * The handler is installed once, when the first mapping is watched, and handles only faults
 * inside watched mappings; every other SIGBUS goes to the disposition the process had before
 * (its handler, or the default: death). */
#ifndef QK_FAULT_H
#define QK_FAULT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qk__fault_watch qk__fault_watch;
struct qk__fault_watch {
    _Atomic uintptr_t base; /* 0: a free entry */
    _Atomic size_t size;
    atomic_int lost;
    qk__fault_watch *_Atomic also; /* marked lost with this one: another mapping of the file */
};

/* Watches [base, base + size); a fault in it marks `also` (NULL: none) lost too, so a second
 * mapping of the same file (the store area) voids the tracker that checks the first. NULL when
 * every entry is taken (the mapping is then unwatched: a truncation kills the process as it
 * would without the library) or the handler could not be installed. */
qk__fault_watch *qk__fault_watch_add(void *base, size_t size, qk__fault_watch *also);

/* Stops watching; returns whether the mapping was lost, in which case the caller must leave it
 * mapped (glibc's robust-mutex list of a thread that held a lock in it may still point there). */
int qk__fault_watch_remove(qk__fault_watch *w);

static inline int qk__fault_lost(const qk__fault_watch *w)
{
    return w != NULL && atomic_load_explicit(&w->lost, memory_order_relaxed);
}

#endif
