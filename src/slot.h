/* A service's slot: its mutex and the state of its windows, in its own 128-byte-aligned block
 * so that threads working on different services never share a cache line. Pointer-free: a
 * slot can live in memory shared between processes.
 *
 * The slot lock is a leaf. Every function here runs with it held, and none of them calls back,
 * allocates, does I/O or touches another slot: events are only written into a caller-provided
 * buffer and delivered once every lock is released. */
#ifndef QK_SLOT_H
#define QK_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "window.h"

/* A single-slot operation changes each window's level at most twice (rollover, then the
 * operation itself). */
#define QK_EVENTS_PER_SLOT_OP (2 * QK_MAX_WINDOWS)

typedef struct {
    _Alignas(128) pthread_mutex_t lock;
    uint32_t n_windows;
    uint32_t journal; /* odd while an update is being written (shared regions only) */
    uint64_t seq;     /* level changes so far; numbers the events */
    uint64_t reserve; /* calls only QK_PRIORITY consumers may take */
    qk_window w[QK_MAX_WINDOWS];
    /* Undo journal, in the slot's colder lines: the state before the update in progress, so
     * that a process killed mid-update leaves nothing torn. The next locker gets EOWNERDEAD and
     * restores it (qk_slot_recover). */
    uint64_t undo_epoch; /* all-services operation it belongs to; 0 for a single-slot one */
    uint64_t undo_seq, undo_reserve;
    uint32_t undo_n_windows;
    qk_window undo[QK_MAX_WINDOWS];
} qk_slot;

/* Where level changes go while the slot lock is held. ev == NULL counts them (seq) but keeps
 * none: nobody listens. */
typedef struct {
    qk_event *ev;
    size_t n;
} qk_event_sink;

typedef enum {
    QK_OP_PEEK,
    QK_OP_RECORD,
    QK_OP_CONSUME,
    QK_OP_REFUND,
    QK_OP_SET_USED,
    QK_OP_RESET
} qk_op_kind;

typedef struct {
    qk_op_kind kind;
    uint64_t n;      /* calls, or the new count for QK_OP_SET_USED */
    unsigned flags;  /* QK_OP_CONSUME */
    unsigned window; /* QK_OP_SET_USED */
} qk_op;

/* Rolls every window whose period ended, then applies op. Returns QK_OK, QK_ERANGE (a record
 * would overflow; nothing counted), QK_ELIMIT (a consume was refused by window *tripped;
 * nothing counted) or QK_EINVAL (set_used of a window the service does not have). */
int qk_slot_apply(qk_slot *sl, qk_service s, const qk_op *op, int64_t now_ms, qk_event_sink *sink,
                  int *tripped);

/* Journals the slot's state (its first n_copy windows) before an update. */
static inline void qk_slot_begin(qk_slot *sl, uint64_t epoch, unsigned n_copy)
{
    sl->undo_epoch = epoch;
    sl->undo_seq = sl->seq;
    sl->undo_reserve = sl->reserve;
    sl->undo_n_windows = sl->n_windows;
    for (unsigned i = 0; i < n_copy; i++)
        sl->undo[i] = sl->w[i];
    /* Compiler barriers: a SIGKILL can land between any two stores, so the undo copy must be
     * written before the odd mark, and the update before the even one. */
    atomic_signal_fence(memory_order_seq_cst);
    sl->journal++;
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void qk_slot_end(qk_slot *sl)
{
    atomic_signal_fence(memory_order_seq_cst);
    sl->journal++;
    atomic_signal_fence(memory_order_seq_cst);
}

/* Repairs a slot whose last owner died holding its lock: an update left half-written is rolled
 * back, unless it belongs to an all-services operation that had committed (epoch <= committed),
 * which is kept. */
void qk_slot_recover(qk_slot *sl, uint64_t committed_epoch);

/* Gives the slot def's windows, thresholds and reserve (n_windows from qk_service_def_check).
 * A window whose period the slot already had keeps its count and bounds. */
void qk_slot_configure(qk_slot *sl, qk_service s, const qk_service_def *def, unsigned n_windows,
                       int64_t now_ms, qk_event_sink *sink);

/* Copies the slot's numbers into out (all but the name). */
void qk_slot_usage(const qk_slot *sl, qk_service s, int tripped, qk_usage *out);

#endif
