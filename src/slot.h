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
#include <stddef.h>

#include "window.h"

/* A single-slot operation changes each window's level at most twice (rollover, then the
 * operation itself). */
#define QK_EVENTS_PER_SLOT_OP (2 * QK_MAX_WINDOWS)

typedef struct {
    _Alignas(128) pthread_mutex_t lock;
    uint32_t n_windows;
    uint64_t seq;     /* level changes so far; numbers the events */
    uint64_t reserve; /* calls only QK_PRIORITY consumers may take */
    qk_window w[QK_MAX_WINDOWS];
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
 * would overflow; nothing counted) or QK_ELIMIT (a consume was refused by window *tripped;
 * nothing counted). */
int qk_slot_apply(qk_slot *sl, qk_service s, const qk_op *op, int64_t now_ms, qk_event_sink *sink,
                  int *tripped);

/* Copies the slot's numbers into out (all but the name). */
void qk_slot_usage(const qk_slot *sl, qk_service s, int tripped, qk_usage *out);

#endif
