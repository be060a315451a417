/* The store engine (engine.h; the model in docs/store.md). Lock rules, as everywhere: a slot
 * lock is a leaf, so under it this file only reads and writes the slot and its leases; syncs
 * copy a request out under the lock, talk to the store with no lock held, and take the lock
 * again to merge the answer. The engine's mutex guards its own bookkeeping (health, idle
 * connections, the thread's wake-up) and is never held while a tracker lock is taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "locking.h"
#include "store/engine.h"
#include "test_hooks.h"

/* The background thread's rhythm: how often it looks, how old unsynced use may get, when an
 * idle lease goes back. */
#define TICK_MS         250
#define REPORT_EVERY_MS 1000
#define IDLE_RELEASE_MS 30000

/* ---- the slot side: under the slot lock ---- */

/* Keeps lease i on the slot's window i; the lease of a window that ended is kept as prev until
 * its last counts reach the store. */
static inline __attribute__((always_inline)) void align_lease(qk__store_slot *ss, const qk_slot *sl,
                                                              unsigned i)
{
    qk__lease *c = &ss->cur[i];
    const qk_window *w = &sl->w[i];
    if (c->start_ms != w->start_ms || c->end_ms != w->end_ms) {
        if (c->end_ms > c->start_ms && qk__lease_unsynced(c) > 0)
            ss->prev[i] = *c;
        qk__lease_start(c, w->start_ms, w->end_ms, w->limit);
        if (i == 0) {
            ss->rate_mark_used = 0;
            ss->rate_mark_ms = 0;
        }
    }
    if (c->limit != w->limit) /* written only when it changed: every consume comes here */
        c->limit = w->limit;
}

static inline __attribute__((always_inline)) void align_all(qk__store_slot *ss, const qk_slot *sl)
{
    for (unsigned i = 0; i < sl->n_windows; i++)
        align_lease(ss, sl, i);
}

/* The fast path's gates (qk__lease.gate). Closed before a lease's g, x or r may go down in
 * effect (a give-back, a merge), opened after every change: a process killed in between leaves
 * them closed, and the next general pass opens them. The fences order the stores against such a
 * kill, as the slot's journal does. A lease given back stays closed until its next use. */
static void close_gates(qk__store_slot *ss)
{
    for (unsigned i = 0; i < QK_MAX_WINDOWS; i++)
        ss->cur[i].gate = 0;
    atomic_signal_fence(memory_order_seq_cst);
}

static void open_gates(qk__store_slot *ss, unsigned nw)
{
    atomic_signal_fence(memory_order_seq_cst);
    for (unsigned i = 0; i < nw; i++)
        ss->cur[i].gate = ss->released ? 0 : qk__lease_gate(&ss->cur[i]);
}

/* n more calls used; 1 when that made the lease low (the sync thread is to be woken). */
static int use_lease(qk__lease *l, uint64_t n)
{
    const int wake = qk__lease_crosses_low(l, n);
    l->used += n;
    return wake;
}

/* The lock that keeps one sync of a service at a time: striped, so a tracker of a million slots
 * does not carry a million mutexes; two services sharing a stripe only take turns. */
static pthread_mutex_t *sync_lock_of(qk__store *st, qk_service s)
{
    return &st->sync_locks[s % st->n_sync_locks];
}

/* Whether every current window's lease holds n more calls. */
static int lease_holds(const qk__store_slot *ss, const qk_slot *sl, uint64_t n)
{
    for (unsigned i = 0; i < sl->n_windows; i++)
        if (ss->cur[i].start_ms != sl->w[i].start_ms || !qk__lease_fits(&ss->cur[i], n))
            return 0;
    return 1;
}

/* Whether n more calls may be consumed on top of the local windows' check: every lease holds
 * them, or the store is out (degraded, or this consume's own sync just failed) and the outage
 * policy allows them. QK_OK, QK__ESYNC, QK_ELIMIT or QK_EUNAVAIL (window *tripped). */
static int lease_decision(qk__store *st, qk_service s, const qk__store_slot *ss, unsigned nw,
                          uint64_t n, unsigned flags, int *tripped)
{
    const int out = atomic_load_explicit(&st->area.hdr->health.degraded, memory_order_relaxed) ||
                    (flags & QK__CONSUME_STORE_FAILED);
    for (unsigned i = 0; i < nw; i++) {
        const qk__lease *l = &ss->cur[i];
        if (qk__lease_fits(l, n))
            continue;
        *tripped = (int)i;
        if (!out)
            return (flags & QK__CONSUME_AFTER_SYNC) ? QK_ELIMIT : QK__ESYNC;
        if (!qk__lease_fits_outage(l, n, st->outage[s]))
            return QK_EUNAVAIL;
    }
    return QK_OK;
}

int qk__store_apply(qk__store *st, qk_service s, const qk_op *op, int64_t now, qk_event_sink *sink,
                    int *tripped, uint64_t epoch)
{
    qk_slot *sl = &st->ctx.region->slots[s];
    qk__store_slot *ss = &st->area.slots[s];
    if (st->ctx.shared)
        qk__slot_begin(sl, epoch, sl->n_windows);
    const qk_op roll = {QK_OP_PEEK, 0, 0, 0};
    int rc = qk__slot_apply(sl, s, &roll, now, sink, tripped);
    align_all(ss, sl);
    const unsigned nw = sl->n_windows;
    int wake = 0;
    switch (op->kind) {
    case QK_OP_CONSUME:
        if (qk__slot_consume_refused(sl, op->n, op->flags, tripped)) {
            rc = QK_ELIMIT;
            break;
        }
        if ((rc = lease_decision(st, s, ss, nw, op->n, op->flags, tripped)) != QK_OK)
            break;
        /* Windows rolled and checked above: count in each, then in its lease. */
        for (unsigned i = 0; i < nw; i++) {
            qk__lease *l = &ss->cur[i];
            const uint64_t from_lease = op->n < qk__lease_left(l) ? op->n : qk__lease_left(l);
            l->outage_used += op->n - from_lease;
            wake |= use_lease(l, op->n);
            qk__slot_set_used(sl, s, i, sl->w[i].used + op->n, sink);
        }
        if (ss->last_use_ms != now)
            ss->last_use_ms = now;
        if (ss->released)
            ss->released = 0;
        break;
    case QK_OP_RECORD: {
        /* A record is a fact: counted whatever the lease; beyond it, the store records an
         * overdraft at the next sync. (A constant kind: the slot's apply compiles for it.) */
        const qk_op record = {QK_OP_RECORD, op->n, 0, 0};
        if ((rc = qk__slot_apply(sl, s, &record, now, sink, tripped)) == QK_OK) {
            for (unsigned i = 0; i < nw; i++)
                wake |= use_lease(&ss->cur[i], op->n);
            ss->last_use_ms = now;
            ss->released = 0;
        }
        break;
    }
    case QK_OP_REFUND:
        /* Only this host's own net use can be given back to the fleet. */
        for (unsigned i = 0; i < nw; i++) {
            qk__lease *l = &ss->cur[i];
            const uint64_t own = l->used - l->refunded;
            l->refunded += op->n < own ? op->n : own;
        }
        rc = qk__slot_apply(sl, s, op, now, sink, tripped);
        break;
    default: /* peek, set_used and reset change this host's view only */
        rc = qk__slot_apply(sl, s, op, now, sink, tripped);
        break;
    }
    open_gates(ss, nw); /* every change above only opens them further */
    if (st->ctx.shared && epoch == 0)
        qk__slot_end(sl);
    if (wake)
        qk__store_add_wake(sink, s);
    return rc;
}

/* ---- the engine's bookkeeping: under st->mu ---- */

static qk__store_conn *take_conn(qk__store *st, int *rc)
{
    pthread_mutex_lock(&st->mu);
    qk__store_conn *c = st->n_idle > 0 ? st->idle[--st->n_idle] : NULL;
    pthread_mutex_unlock(&st->mu);
    *rc = c != NULL ? QK_OK : st->backend->open(&c, &st->url);
    return c;
}

static void give_conn(qk__store *st, qk__store_conn *c)
{
    pthread_mutex_lock(&st->mu);
    if (st->n_idle < sizeof st->idle / sizeof st->idle[0]) {
        st->idle[st->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    st->backend->close(c);
}

/* Counts an operation's outcome; a change of state becomes an event in ev (returns 1). */
static int count_outcome(qk__store *st, int rc, qk_event *ev)
{
    pthread_mutex_lock(&st->mu);
    /* Only a store that cannot be reached counts towards DEGRADED, which cuts every service off
     * from it: a server that answers with an error (one service's key of the wrong type, a
     * refused password) is reachable. Such an answer counts as a failure, not in a row. */
    int change = 0;
    if (rc == QK_OK || rc == QK_EUNAVAIL)
        change = qk__health_count(&st->area.hdr->health, rc == QK_OK);
    else
        atomic_fetch_add(&st->area.hdr->health.total_fails, 1);
    if (rc != QK_OK)
        snprintf(st->last_error, sizeof st->last_error, "%s", qk_errmsg());
    pthread_mutex_unlock(&st->mu);
    if (change == 0)
        return 0;
    memset(ev, 0, sizeof *ev);
    ev->kind = change > 0 ? QK_EVENT_STORE_DEGRADED : QK_EVENT_STORE_RECOVERED;
    return 1;
}

/* ---- one sync of one service: the request under the lock, the talk without ---- */

typedef struct {
    qk__store_sync_req req;
    /* Where each request window goes back: cur (0) or prev (1), and which index. */
    unsigned where[QK__STORE_SYNC_WINDOWS], index[QK__STORE_SYNC_WINDOWS];
} sync_plan;

static void add_window(sync_plan *p, const qk__lease *l, qk_period period, uint64_t want,
                       unsigned where, unsigned index)
{
    qk__store_window_req *w = &p->req.w[p->req.n_windows];
    w->period = period;
    w->start_ms = l->start_ms;
    w->end_ms = l->end_ms;
    w->limit = l->limit;
    w->granted = want;
    w->used = l->used;
    w->refunded = l->refunded;
    w->released = l->released;
    p->where[p->req.n_windows] = where;
    p->index[p->req.n_windows] = index;
    p->req.n_windows++;
}

/* Builds service s's request: every current window (asking for `need` more calls, or giving
 * back what is not used when release), and every ended window with counts the store lacks. */
static void plan_sync(qk__store *st, qk_service s, uint64_t need, int release, int64_t now,
                      qk_event_sink *sink, sync_plan *p)
{
    qk_slot *sl = &st->ctx.region->slots[s];
    qk__store_slot *ss = &st->area.slots[s];
    const qk_op roll = {QK_OP_PEEK, 0, 0, 0};
    int unused = -1;
    if (st->ctx.shared)
        qk__slot_begin(sl, 0, sl->n_windows);
    qk__slot_apply(sl, s, &roll, now, sink, &unused);
    if (st->ctx.shared)
        qk__slot_end(sl);
    align_all(ss, sl);
    /* The rate of the last stretch, smoothed, sizes the next grant. */
    if (ss->rate_mark_ms != 0 && now > ss->rate_mark_ms) {
        const double fresh = (double)(ss->cur[0].used - ss->rate_mark_used) * 1000.0 /
                             (double)(now - ss->rate_mark_ms);
        ss->rate_per_s = ss->rate_per_s == 0 ? fresh : 0.5 * ss->rate_per_s + 0.5 * fresh;
    }
    ss->rate_mark_ms = now;
    ss->rate_mark_used = ss->cur[0].used;

    p->req.service = st->ctx.region->names[s];
    p->req.host_id = st->area.hdr->host_id;
    p->req.n_windows = 0;
    close_gates(ss);
    if (release)
        ss->released = 1; /* cleared by the next consume or record */
    for (unsigned i = 0; i < sl->n_windows; i++) {
        qk__lease *l = &ss->cur[i];
        uint64_t want = l->granted;
        if (release)
            l->released += qk__lease_left(l); /* given up here first, then told: safe if lost */
        else if (!ss->released || need > 0)   /* a lease given back is asked for again by a use */
            want = qk__lease_want(l, need, ss->rate_per_s, st->lease_max[s]);
        add_window(p, l, (qk_period)sl->w[i].period, want, 0, i);
    }
    for (unsigned i = 0; i < QK_MAX_WINDOWS; i++) {
        qk__lease *l = &ss->prev[i];
        if (l->end_ms > l->start_ms && qk__lease_unsynced(l) > 0 && i < sl->n_windows) {
            l->released += qk__lease_left(l); /* an ended window's lease is of no use */
            add_window(p, l, (qk_period)sl->w[i].period, l->granted, 1, i);
        }
    }
    if (release)
        TEST_POINT(QK_TP_STORE_GIVEN_BACK, s); /* state_kill_store: a kill here */
    open_gates(ss, sl->n_windows);
}

/* Merges the store's answer into the leases and shows the fleet's use in the windows. */
static void merge_sync(qk__store *st, qk_service s, const sync_plan *p,
                       const qk__store_sync_reply *r, qk_event_sink *sink)
{
    qk_slot *sl = &st->ctx.region->slots[s];
    qk__store_slot *ss = &st->area.slots[s];
    if (st->ctx.shared)
        qk__slot_begin(sl, 0, sl->n_windows);
    close_gates(ss);
    for (unsigned k = 0; k < p->req.n_windows; k++) {
        const qk__store_window_req *q = &p->req.w[k];
        const qk__store_window_reply *a = &r->w[k];
        const unsigned i = p->index[k];
        qk__lease *l = p->where[k] ? &ss->prev[i] : &ss->cur[i];
        if (l->start_ms != q->start_ms || l->end_ms != q->end_ms)
            continue; /* the window moved on meanwhile: the next sync sends it again */
        const int current =
            qk__lease_merge(l, a->granted_host, a->released_host, a->granted, a->used, a->limit,
                            a->active_hosts, q->used, q->refunded);
        if (current && p->where[k] == 0 && i < sl->n_windows && sl->w[i].start_ms == l->start_ms) {
            /* The fleet's use as of the store's answer, plus what this host did since. */
            const uint64_t fleet = l->fleet_used + qk__lease_unsynced(l); /* never below ours */
            qk__slot_set_used(sl, s, i, fleet, sink);
        }
        if (p->where[k] == 1 && qk__lease_unsynced(l) == 0)
            memset(l, 0, sizeof *l);
    }
    open_gates(ss, sl->n_windows);
    if (st->ctx.shared)
        qk__slot_end(sl);
}

/* The caller's clock (or the system's), with no store offset. */
static int64_t raw_clock(const qk__store *st)
{
    return st->ctx.clock ? st->ctx.clock(st->ctx.clock_ctx) : qk__system_clock_ms(NULL);
}

/* The fleet's clock: every host of the fleet cuts windows at the same moments. */
static int64_t store_clock(const qk__store *st)
{
    return qk__store_clock_of(st, raw_clock(st));
}

/* Events of a sync, handed up through the callback the tracker stored: with no lock held. */
static void deliver(qk__store *st, qk_event *ev, size_t n)
{
    st->ctx.deliver(st->ctx.owner, ev, n);
}

/* A consume that waited for a sync, applied in the same hold of the slot lock as the merge of
 * the store's answer (or as the finding that another sync already brought enough): between an
 * unlock and a second try other threads could take the grant it waited for, and it would be
 * refused with QK_ELIMIT while the fleet still had room. rc stays QK__ESYNC when the store did
 * not answer. */
typedef struct {
    uint64_t n;
    unsigned flags;
    int64_t now; /* the tracker's clock, read with no lock held */
    qk_usage *out;
    int rc;
} sync_consume;

static void consume_locked(qk__store *st, qk_service s, sync_consume *k, qk_event_sink *sink)
{
    const qk_op op = {QK_OP_CONSUME, k->n, k->flags | QK__CONSUME_AFTER_SYNC, 0};
    int tripped = -1;
    k->rc = qk__store_apply(st, s, &op, k->now, sink, &tripped, 0);
    if (k->out != NULL && (k->rc == QK_OK || k->rc == QK_ELIMIT))
        qk__slot_usage(&st->ctx.region->slots[s], s, tripped, k->out);
}

/* One sync of service s, start to end, bounded by deadline_ms; with k, a consume of k->n that
 * needs it (need = k->n). Events (level changes the merge or the consume caused, a change of
 * the store's state) are delivered before it returns. */
static int sync_one(qk__store *st, qk_service s, uint64_t need, int release, int64_t deadline_ms,
                    qk__store_conn *c, sync_consume *k)
{
    /* The plan's rolls, the merge's and the consume's level changes, the health. */
    qk_event ev[2 * QK_EVENTS_PER_SLOT_OP + 1];
    qk_event_sink sink = {ev, 0, 0};
    sync_plan plan;
    /* One sync of a service at a time in this process, so answers are merged in the order the
     * store applied them. Waiting counts against the same deadline. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    const int64_t wait_ms = deadline_ms - qk__store_now_ms();
    until.tv_sec += wait_ms > 0 ? wait_ms / 1000 : 0;
    until.tv_nsec += wait_ms > 0 ? (wait_ms % 1000) * 1000000L : 0;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    if (pthread_mutex_timedlock(sync_lock_of(st, s), &until) != 0)
        return qk__fail(QK_EUNAVAIL, "service '%s': another sync of it did not finish in time",
                        st->ctx.region->names[s]);
    int rc = slot_lock_sealed(st->ctx.region, s);
    if (rc != QK_OK) {
        pthread_mutex_unlock(sync_lock_of(st, s));
        return rc;
    }
    if (need > 0 && lease_holds(&st->area.slots[s], &st->ctx.region->slots[s], need)) {
        /* The sync this one waited for brought what the consume needs. */
        if (k != NULL)
            consume_locked(st, s, k, &sink);
        slot_unlock(st->ctx.region, s);
        pthread_mutex_unlock(sync_lock_of(st, s));
        if (sink.n > 0)
            deliver(st, ev, sink.n);
        if (sink.wake_store)
            qk__store_wake(st);
        return QK_OK;
    }
    plan_sync(st, s, need, release, store_clock(st), &sink, &plan);
    slot_unlock(st->ctx.region, s);

    const int64_t sent_at = raw_clock(st);
    qk__store_sync_reply reply;
    rc = st->backend->sync(c, &plan.req, &reply, deadline_ms);
    if (rc == QK_OK) {
        const int64_t back_at = raw_clock(st);
        atomic_store(&st->offset_ms, qk__store_offset_believed(
                                         atomic_load(&st->offset_ms),
                                         reply.server_ms - (sent_at + (back_at - sent_at) / 2)));
        if ((rc = slot_lock_sealed(st->ctx.region, s)) == QK_OK) {
            merge_sync(st, s, &plan, &reply, &sink);
            if (k != NULL)
                consume_locked(st, s, k, &sink);
            slot_unlock(st->ctx.region, s);
        }
    }
    qk_event health_ev;
    if (count_outcome(st, rc, &health_ev))
        ev[sink.n++] = health_ev;
    pthread_mutex_unlock(sync_lock_of(st, s));
    /* Last, with nothing held: a callback may consume, and so sync this service again. */
    if (sink.n > 0)
        deliver(st, ev, sink.n);
    if (sink.wake_store)
        qk__store_wake(st);
    return rc;
}

/* ---- who syncs: a consume short of lease, qk_store_sync, the background thread ---- */

int qk__store_sync_for_consume(qk__store *st, qk_service s, uint64_t n, unsigned flags, int64_t now,
                               qk_usage *out, unsigned *again)
{
    sync_consume k = {n, flags, now, out, QK__ESYNC};
    int rc;
    qk__store_conn *c = take_conn(st, &rc);
    if (c != NULL) {
        sync_one(st, s, n, 0, qk__store_now_ms() + st->timeout_ms, c, &k);
        give_conn(st, c);
    }
    if (k.rc == QK_OK || k.rc == QK_ELIMIT)
        return k.rc;
    /* No answer: the outage policy decides. Any other outcome (the store went degraded in the
     * meantime) is decided again, by the path that words its message. */
    *again = flags | (k.rc == QK__ESYNC ? QK__CONSUME_STORE_FAILED : QK__CONSUME_AFTER_SYNC);
    return QK__ESYNC;
}

/* Which services the thread syncs now, and how. */
static int wants_sync(qk__store *st, qk_service s, int64_t now, int *release)
{
    const qk_slot *sl = &st->ctx.region->slots[s];
    const qk__store_slot *ss = &st->area.slots[s];
    int want = 0;
    *release = 0;
    const int idle = ss->last_use_ms != 0 && now - ss->last_use_ms >= IDLE_RELEASE_MS;
    for (unsigned i = 0; i < sl->n_windows; i++) {
        const qk__lease *c = &ss->cur[i];
        want |= qk__lease_unsynced(c) > 0 || qk__lease_unsynced(&ss->prev[i]) > 0;
        /* A lease given back (idle, qk_store_sync, a Lambda handler's end) stays given back
         * until the next use: a refill now would strand it in a process about to stop. */
        if (!idle && ss->last_use_ms != 0 && !ss->released)
            want |= qk__lease_low(c);
        if (idle && !ss->released && qk__lease_left(c) > 0)
            *release = 1;
    }
    return want || *release;
}

/* While degraded with nothing to sync, the store's clock is the cheapest question that counts
 * towards leaving the degraded state (5 answers in a row). */
static void probe(qk__store *st, qk__store_conn *c)
{
    int64_t server_ms;
    const int rc = st->backend->server_time(c, &server_ms, qk__store_now_ms() + st->timeout_ms);
    qk_event ev;
    if (count_outcome(st, rc, &ev))
        deliver(st, &ev, 1);
}

static void *sync_thread(void *arg)
{
    qk__store *st = arg;
    qk__store_conn *c = NULL;
    int64_t last_pass = 0;
    pthread_mutex_lock(&st->mu);
    while (!st->stopping) {
        if (!st->wake_pending) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += TICK_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&st->wake, &st->mu, &until);
        }
        const int woken = st->wake_pending;
        st->wake_pending = 0;
        const int degraded = (int)atomic_load(&st->area.hdr->health.degraded);
        if (st->stopping)
            break;
        pthread_mutex_unlock(&st->mu);

        /* While degraded, probe at most once a second; otherwise report at least that often. */
        const int64_t mono = qk__store_now_ms();
        if (woken || mono - last_pass >= REPORT_EVERY_MS) {
            int rc = QK_OK;
            if (c == NULL)
                rc = st->backend->open(&c, &st->url);
            const uint32_t n = rc == QK_OK ? qk__region_published(st->ctx.region) : 0;
            int tried = 0;
            for (qk_service s = 0; s < n; s++) {
                int release = 0;
                if (slot_lock(st->ctx.region, s) != QK_OK)
                    continue;
                const int want = wants_sync(st, s, store_clock(st), &release);
                slot_unlock(st->ctx.region, s);
                if (!want)
                    continue;
                tried = 1;
                rc = sync_one(st, s, 0, release, qk__store_now_ms() + st->timeout_ms, c, NULL);
                if (rc != QK_OK && degraded)
                    break; /* one probe per pass while the store is out */
            }
            if (degraded && !tried && c != NULL)
                probe(st, c); /* nothing to send, but the way back must be found all the same */
            last_pass = mono;
        }
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    st->backend->close(c);
    return NULL;
}

void qk__store_wake(qk__store *st)
{
    pthread_mutex_lock(&st->mu);
    st->wake_pending = 1;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->mu);
}

/* Every service, giving back unused leases, by one deadline. A service the server refuses (a
 * key of the wrong type) does not stop the others; an unreachable store does. Returns the first
 * failure, with its message. */
/* Whether service s holds any lease it has not used. */
static int holds_lease(qk__store *st, qk_service s)
{
    if (slot_lock(st->ctx.region, s) != QK_OK)
        return 0;
    const qk_slot *sl = &st->ctx.region->slots[s];
    const qk__store_slot *ss = &st->area.slots[s];
    int holds = 0;
    for (unsigned i = 0; i < sl->n_windows; i++)
        holds |= qk__lease_left(&ss->cur[i]) > 0;
    slot_unlock(st->ctx.region, s);
    return holds;
}

static int sync_all(qk__store *st, int64_t deadline_ms)
{
    int rc;
    qk__store_conn *c = take_conn(st, &rc);
    if (c == NULL)
        return rc;
    const uint32_t n = qk__region_published(st->ctx.region);
    int first = QK_OK;
    char why[256] = "";
    for (qk_service s = 0; s < n && rc != QK_EUNAVAIL; s++) {
        /* The answer to a give-back can show a grant this host never heard of (a request whose
         * answer was lost, applied late): give that back too, a few rounds at most. */
        for (int round = 0; round < 3; round++)
            if ((rc = sync_one(st, s, 0, 1, deadline_ms, c, NULL)) != QK_OK || !holds_lease(st, s))
                break;
        if (rc != QK_OK && first == QK_OK) {
            first = rc;
            snprintf(why, sizeof why, "%s", qk_errmsg());
        }
    }
    give_conn(st, c);
    if (first == QK_OK)
        return QK_OK;
    /* The saved message already starts with the code's words: set it again without them. */
    const size_t len = strlen(qk_strerror(first));
    const char *rest =
        strncmp(why, qk_strerror(first), len) == 0 && why[len] == ':' ? why + len + 2 : why;
    return qk__fail(first, "%s", rest);
}

int qk__store_sync(qk__store *st)
{
    return sync_all(st, qk__store_now_ms() + st->timeout_ms);
}

int qk__store_status(qk__store *st, qk_store_info *out)
{
    if (out->version != QK_STORE_INFO_VERSION)
        return qk__fail(QK_EINVAL, "qk_store_info version %u is not supported (this library: %d)",
                        out->version, QK_STORE_INFO_VERSION);
    const uint32_t n = qk__region_published(st->ctx.region);
    for (qk_service s = 0; out->services != NULL && s < n && s < out->cap; s++) {
        qk_store_service_info *si = &out->services[s];
        const int rc = slot_lock(st->ctx.region, s);
        if (rc != QK_OK)
            return rc;
        const qk_slot *sl = &st->ctx.region->slots[s];
        const qk__store_slot *ss = &st->area.slots[s];
        si->service = s;
        si->n_windows = sl->n_windows;
        for (unsigned i = 0; i < sl->n_windows; i++) {
            const qk__lease *l = &ss->cur[i];
            qk_store_window_info *w = &si->windows[i];
            w->period = (qk_period)sl->w[i].period;
            w->window_start_ms = sl->w[i].start_ms;
            w->held = qk__lease_left(l);
            w->unsynced = qk__lease_unsynced(l) + qk__lease_unsynced(&ss->prev[i]);
            w->fleet_used = l->fleet_used;
            w->fleet_limit = l->limit;
            w->overdraft = l->fleet_granted > l->limit ? l->fleet_granted - l->limit : 0;
        }
        slot_unlock(st->ctx.region, s);
    }
    pthread_mutex_lock(&st->mu);
    const qk__store_health *h = &st->area.hdr->health;
    out->degraded = (int)atomic_load(&h->degraded);
    out->consecutive_failures = atomic_load(&h->fails);
    out->consecutive_successes = atomic_load(&h->oks);
    out->failures = atomic_load(&h->total_fails);
    out->syncs = atomic_load(&h->total_oks) + out->failures;
    snprintf(out->last_error, sizeof out->last_error, "%s", st->last_error);
    pthread_mutex_unlock(&st->mu);
    out->clock_offset_ms = atomic_load(&st->offset_ms);
    memcpy(out->host_id, st->area.hdr->host_id, sizeof out->host_id - 1);
    out->host_id[sizeof out->host_id - 1] = '\0';
    out->count = n;
    return QK_OK;
}

/* ---- opening and closing ---- */

int qk__store_attach(qk__store **out, const qk__store_ctx *ctx, const qk_options *o,
                     const qk__checked_def *defs, size_t n_defs)
{
    qk__store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return qk__fail(QK_ENOMEM, "no memory for the store");
    qk__store_url url;
    int rc = qk__store_check(o->store, &st->backend, &url);
    st->url = url;
    explicit_bzero(&url, sizeof url);
    st->ctx = *ctx;
    st->timeout_ms = o->store_timeout_ms ? o->store_timeout_ms : 100;
    const uint32_t capacity = ctx->region->hdr->capacity;
    st->outage = calloc(capacity, sizeof *st->outage);
    st->lease_max = calloc(capacity, sizeof *st->lease_max);
    st->n_sync_locks = capacity < QK__SYNC_LOCKS_MAX ? capacity : QK__SYNC_LOCKS_MAX;
    st->sync_locks = calloc(st->n_sync_locks, sizeof *st->sync_locks);
    if (rc == QK_OK && (st->outage == NULL || st->lease_max == NULL || st->sync_locks == NULL))
        rc = qk__fail(QK_ENOMEM, "no memory for the store's settings");
    if (rc == QK_OK)
        rc = qk__store_area_open(&st->area, st->ctx.region);
    if (rc != QK_OK) {
        free(st->outage);
        free(st->lease_max);
        free(st->sync_locks);
        explicit_bzero(&st->url, sizeof st->url);
        free(st);
        return rc;
    }
    for (size_t i = 0; i < n_defs; i++) {
        const int s =
            qk__region_find_name(ctx->region, defs[i].def.name, qk__region_published(ctx->region));
        if (s >= 0) {
            st->outage[s] = defs[i].def.outage;
            st->lease_max[s] = defs[i].def.lease_max;
        }
    }
    pthread_mutex_init(&st->mu, NULL);
    for (size_t i = 0; i < st->n_sync_locks; i++)
        pthread_mutex_init(&st->sync_locks[i], NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&st->wake, &ca);
    pthread_condattr_destroy(&ca);
    *out = st;
    return QK_OK;
}

int qk__store_start(qk__store *st)
{
    if (pthread_create(&st->thread, NULL, sync_thread, st) != 0)
        return qk__fail(QK_ENOMEM, "cannot start the store's sync thread");
    st->thread_started = 1;
    return QK_OK;
}

void qk__store_detach(qk__store *st)
{
    if (st == NULL)
        return;
    if (st->thread_started) {
        pthread_mutex_lock(&st->mu);
        st->stopping = 1;
        pthread_cond_signal(&st->wake);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->thread, NULL);
        /* The last word: counts sent, unused leases back, within one timeout. */
        sync_all(st, qk__store_now_ms() + st->timeout_ms);
    }
    for (size_t i = 0; i < st->n_idle; i++)
        st->backend->close(st->idle[i]);
    qk__store_area_close(&st->area);
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->mu);
    for (size_t i = 0; i < st->n_sync_locks; i++)
        pthread_mutex_destroy(&st->sync_locks[i]);
    free(st->sync_locks);
    free(st->outage);
    free(st->lease_max);
    explicit_bzero(&st->url, sizeof st->url); /* a wipe the optimiser keeps */
    free(st);
}
