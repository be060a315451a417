/* One sync of one service, shared by the consume that runs short (sync.c), qk_store_sync and
 * the sync thread (thread.c): the engine's internals, never included by the tracker. */
#ifndef QK_STORE_SYNC_H
#define QK_STORE_SYNC_H

#include "store/engine.h"

/* The caller's clock (or the system's), with no store offset. */
static inline int64_t qk__store_caller_clock(const qk__store *st)
{
    return st->ctx.clock ? st->ctx.clock(st->ctx.clock_ctx) : qk__system_now_ms();
}

/* The fleet's clock: every host of the fleet cuts windows at the same moments. */
static inline int64_t qk__store_fleet_clock(const qk__store *st)
{
    return qk__store_clock_of(st, qk__store_caller_clock(st));
}

/* Events of a sync, handed up through the callback the owner stored: with no lock held. */
static inline void qk__store_deliver(qk__store *st, qk_event *ev, size_t n)
{
    st->ctx.deliver(st->ctx.owner, ev, n);
}

/* A connection for one thread's use: an idle one, or a new one (QK_OK in *rc, or the backend's
 * error and NULL). Given back with qk__store_give_conn, which closes it past the idle few. */
qk__store_conn *qk__store_take_conn(qk__store *st, int *rc);
void qk__store_give_conn(qk__store *st, qk__store_conn *c);
/* Counts an operation's outcome in the host's health; a change of state becomes an event in
 * *ev (returns 1). */
int qk__store_count_outcome(qk__store *st, int rc, qk_event *ev);

/* What a sync does besides asking for what it needs (qk__store_sync_one's how). */
enum {
    QK__SYNC_RELEASE = 1, /* give back every unused lease */
    QK__SYNC_FINAL = 2,   /* and leave: the host's last word for the service (a private tracker) */
};

/* A consume that waited for a sync, applied in the same hold of the slot lock as the merge. */
typedef struct qk__sync_consume qk__sync_consume;
/* One sync of service s, bounded by deadline_ms, asking for need more calls (or, with how's
 * QK__SYNC_* flags, giving back what is not used, and leaving); with k, the consume that needs it.
 * Events are delivered before it returns. */
int qk__store_sync_one(qk__store *st, qk_service s, uint64_t need, unsigned how,
                       int64_t deadline_ms, qk__store_conn *c, qk__sync_consume *k);
/* Every service, giving back unused leases, by one deadline. With last_word (a tracker being
 * freed), only those that hold a lease or have use the store has not seen (none: no connection at
 * all), and for a private tracker, whose host id ends with it, also those the store knows, which
 * it tells to retire the host (unless the store is out: silence retires it then). */
int qk__store_sync_all(qk__store *st, int64_t deadline_ms, int last_word);

/* Stops and joins the sync thread (no lock held); a no-op when it never started. */
void qk__store_thread_stop(qk__store *st);

#endif
