/* One sync of one service, and who asks for it outside the background thread (sync.h; the model
 * in docs/store.md): the request is copied out under the slot lock, the store is talked to with
 * no lock held, and the lock is taken again to merge the answer. The engine's mutex guards its
 * bookkeeping (health, idle connections) and is never held while a tracker lock is taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "locking.h"
#include "store/guard.h"
#include "store/sync.h"
#include "test_hooks.h"
#include "zone_table.h"

/* The lock that keeps one sync of a service at a time: striped, so a tracker of a million slots
 * does not carry a million mutexes; two services sharing a stripe only take turns. */
static pthread_mutex_t *sync_lock_of(qk__store *st, qk_service s)
{
    return &st->sync_locks[s % st->n_sync_locks];
}

/* ---- connections and health: under st->mu ---- */

qk__store_conn *qk__store_take_conn(qk__store *st, int *rc)
{
    pthread_mutex_lock(&st->mu);
    qk__store_conn *c = st->n_idle > 0 ? st->idle[--st->n_idle] : NULL;
    pthread_mutex_unlock(&st->mu);
    *rc = c != NULL ? QK_OK : st->backend->open(&c, &st->url);
    return c;
}

void qk__store_give_conn(qk__store *st, qk__store_conn *c)
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
int qk__store_count_outcome(qk__store *st, int rc, qk_event *ev)
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
    int64_t now;      /* the fleet's clock when the request was made: its lease term starts here */
    int64_t clock_ms; /* the store clock's resolution (qk__store_clock_res) */
    /* Where each request window goes back: cur (0) or prev (1), and which index. */
    unsigned where[QK__STORE_SYNC_WINDOWS], index[QK__STORE_SYNC_WINDOWS];
} sync_plan;

static void add_window(sync_plan *p, const qk__lease *l, const qk_window *win, const char *tz,
                       uint64_t want, unsigned where, unsigned index)
{
    qk__store_window_req *w = &p->req.w[p->req.n_windows];
    w->period = (qk_period)win->period;
    w->every = qk__window_every(win);
    w->start_ms = l->start_ms;
    w->end_ms = l->end_ms;
    w->limit = l->limit;
    w->granted = want;
    w->used = l->used;
    w->refunded = l->refunded;
    w->released = l->released;
    w->tz = tz;
    w->horizon_ms = 0;
    if (win->flags & QK_WINDOW_ROLLING) /* a piece of it: l's bounds are the piece's */
        w->horizon_ms = qk__store_horizon_ms(qk__window_rolling_ms(win), p->clock_ms);
    p->where[p->req.n_windows] = where;
    p->index[p->req.n_windows] = index;
    p->req.n_windows++;
}

/* What a piece of piece_ms of rolling window w can use at the window's full rate: L P / W,
 * rounded up, at least 1. */
static uint64_t piece_share_of(uint64_t limit, int64_t piece_ms, const qk_window *w)
{
    const double share = (double)limit * (double)piece_ms / (double)qk__window_rolling_ms(w);
    return share < 1.0 ? 1 : (uint64_t)share + (share > (double)(uint64_t)share);
}

/* The zone a window's boundaries are local to, NULL for UTC. A published entry never changes,
 * so its name stays valid while the request is out (zone_table.h). */
static const char *zone_name(const qk__store *st, const qk_window *win)
{
    const qk__zone *z = qk__zones_get(st->ctx.region->ext.zones, win->zone);
    return z != NULL ? z->name : NULL;
}

/* Builds service s's request: every current window (asking for `need` more calls, or giving
 * back what is not used when release), and every ended window with counts the store lacks. */
static void plan_sync(qk__store *st, qk_service s, uint64_t need, unsigned how, int64_t now,
                      qk_event_sink *sink, sync_plan *p)
{
    const int release = (how & QK__SYNC_RELEASE) != 0;
    qk_slot *sl = &st->ctx.region->slots[s];
    qk__store_slot *ss = &st->area.slots[s];
    const qk_op roll = {QK_OP_PEEK, 0, 0, 0};
    int unused = -1;
    if (st->ctx.shared)
        qk__slot_begin(sl, 0, sl->n_windows);
    qk__slot_apply(sl, &st->ctx.region->ext, s, &roll, now, sink, &unused);
    if (st->ctx.shared)
        qk__slot_end(sl);
    p->clock_ms = qk__store_clock_res(st);
    qk__guard_align_all(ss, sl, now, p->clock_ms);
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
    p->req.seq = ++ss->seq; /* under the slot lock: the processes of a host share the count */
    p->req.final = (how & QK__SYNC_FINAL) != 0;
    p->req.n_windows = 0;
    p->now = now;
    qk__guard_close_gates(ss);
    if (release)
        ss->released = 1; /* cleared by the next consume or record */
    /* Past its term the lease is not this host's any more: the store may have retired the host
     * and taken it back. Counted as given back here first, as the store counts it, so that what
     * the host asks for is more than the grant the store already has for it. */
    const int term_over = now >= ss->term_ms;
    for (unsigned i = 0; i < sl->n_windows; i++) {
        qk__lease *l = &ss->cur[i];
        if (term_over)
            l->released += qk__lease_left(l);
        uint64_t want = l->granted;
        const int rolling = (sl->w[i].flags & QK_WINDOW_ROLLING) != 0;
        /* A rolling window's piece is of use only until the piece ends, and never needs more
         * than the window's rate over it, L P / W: a grant past what the piece can use holds
         * the window for a whole horizon (a rate estimated from the first calls' burst asked
         * for thousands). */
        const int64_t target = rolling && l->end_ms - now < QK__LEASE_TARGET_MS
                                   ? l->end_ms - now
                                   : QK__LEASE_TARGET_MS;
        const int ahead = !rolling || qk__lease_piece_worth(ss->rate_per_s, l->end_ms - now);
        uint64_t cap = st->lease_max[s];
        if (rolling) {
            const uint64_t piece_share =
                piece_share_of(l->limit, l->end_ms - l->start_ms, &sl->w[i]);
            if (cap == 0 || piece_share < cap)
                cap = piece_share;
        }
        if (release)
            l->released += qk__lease_left(l); /* given up here first, then told: safe if lost */
        else if ((!ss->released || need > 0) && (need > 0 || ahead))
            /* A lease given back is asked for again by a use; a piece only when it will be. */
            want = qk__lease_want(l, need, ss->rate_per_s, cap, target);
        add_window(p, l, &sl->w[i], zone_name(st, &sl->w[i]), want, 0, i);
    }
    for (unsigned i = 0; i < QK_MAX_WINDOWS; i++) {
        qk__lease *l = &ss->prev[i];
        /* An ended piece of a rolling window is sent while it holds calls too: they count
         * against the window for its horizon until given back. */
        const int holds = (sl->w[i].flags & QK_WINDOW_ROLLING) && qk__lease_left(l) > 0;
        if (l->end_ms > l->start_ms && (qk__lease_unsynced(l) > 0 || holds) && i < sl->n_windows) {
            l->released += qk__lease_left(l); /* an ended window's lease is of no use */
            add_window(p, l, &sl->w[i], zone_name(st, &sl->w[i]), l->granted, 1, i);
        }
    }
    if (release)
        TEST_POINT(QK_TP_STORE_GIVEN_BACK, s); /* state_kill_store: a kill here */
    qk__guard_open_gates(ss, sl->n_windows);
}

/* Merges the store's answer into the leases and shows the fleet's use in the windows. trusted:
 * the answer came back within 2 QK__ROLLING_SKEW_MS and its clock offset was believed, so the
 * fleet's clock is within QK__ROLLING_SKEW_MS of the store's (merge.h); a rolling piece's grant
 * from an answer that is not is given back unused. */
static void merge_sync(qk__store *st, qk_service s, const sync_plan *p,
                       const qk__store_sync_reply *r, int trusted, qk_event_sink *sink)
{
    qk_slot *sl = &st->ctx.region->slots[s];
    qk__store_slot *ss = &st->area.slots[s];
    if (st->ctx.shared)
        qk__slot_begin(sl, 0, sl->n_windows);
    qk__guard_close_gates(ss);
    /* The store applied the request after it was made, so a term counted from then ends before
     * the store may count the host as silent (QK__STORE_RETIRE_MS): in any order of answers. */
    const int64_t term = p->now + qk__lease_term_ms();
    if (term > ss->term_ms)
        ss->term_ms = term;
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
        if (q->horizon_ms > 0 && !trusted)
            l->released += qk__lease_left(l);
        /* A piece's figures are the piece's: a rolling window shows this host's own count. */
        if (current && p->where[k] == 0 && i < sl->n_windows && q->horizon_ms == 0 &&
            sl->w[i].start_ms == l->start_ms) {
            /* The fleet's use as of the store's answer, plus what this host did since. */
            const uint64_t fleet = l->fleet_used + qk__lease_unsynced(l); /* never below ours */
            qk__slot_set_used(sl, s, i, fleet, sink);
        }
        if (p->where[k] == 1 && qk__lease_unsynced(l) == 0)
            memset(l, 0, sizeof *l);
    }
    qk__guard_open_gates(ss, sl->n_windows);
    if (st->ctx.shared)
        qk__slot_end(sl);
}

/* Whether the request holds a piece of a rolling window. */
static int has_piece(const sync_plan *p)
{
    for (unsigned k = 0; k < p->req.n_windows; k++)
        if (p->req.w[k].horizon_ms > 0)
            return 1;
    return 0;
}

/* A consume that waited for a sync, applied in the same hold of the slot lock as the merge of
 * the store's answer (or as the finding that another sync already brought enough): between an
 * unlock and a second try other threads could take the grant it waited for, and it would be
 * refused with QK_ELIMIT while the fleet still had room. answered stays 0 when the store did
 * not answer. */
struct qk__sync_consume {
    uint64_t n;
    unsigned flags;
    int64_t now; /* the tracker's clock, read with no lock held */
    qk_usage *out;
    int answered, rc;
};

static void consume_locked(qk__store *st, qk_service s, qk__sync_consume *k, qk_event_sink *sink)
{
    const qk_op op = {QK_OP_CONSUME, k->n, k->flags | QK__CONSUME_AFTER_SYNC, 0};
    int tripped = -1;
    /* The clock again: the consume happens now, a round trip after the caller read it, and a
     * rolling window's piece must be the one it happens in (merge.h). */
    const int64_t fresh = qk__store_fleet_clock(st);
    k->rc = qk__guard_apply(st, s, &op, fresh > k->now ? fresh : k->now, sink, &tripped, 0);
    k->answered = 1;
    if (k->out != NULL && (k->rc == QK_OK || k->rc == QK_ELIMIT))
        qk__slot_usage(&st->ctx.region->slots[s], s, tripped, k->out);
}

/* Last, with nothing held: the sync's events (a callback may consume, and so sync this service
 * again) and a wake-up its consume asked for. */
static void after_sync(qk__store *st, qk_event *ev, const qk_event_sink *sink)
{
    if (sink->n > 0)
        qk__store_deliver(st, ev, sink->n);
    if (sink->store & QK__SINK_WAKE_STORE)
        qk__store_wake(st);
}

/* One sync of service s, start to end, bounded by deadline_ms; with k, a consume of k->n that
 * needs it (need = k->n). Events (level changes the merge or the consume caused, a change of
 * the store's state) are delivered before it returns. */
int qk__store_sync_one(qk__store *st, qk_service s, uint64_t need, unsigned how,
                       int64_t deadline_ms, qk__store_conn *c, qk__sync_consume *k)
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
    if (need > 0 && qk__guard_lease_holds(&st->area.slots[s], &st->ctx.region->slots[s], need,
                                          qk__store_fleet_clock(st), qk__store_clock_res(st))) {
        /* The sync this one waited for brought what the consume needs. */
        if (k != NULL)
            consume_locked(st, s, k, &sink);
        slot_unlock(st->ctx.region, s);
        pthread_mutex_unlock(sync_lock_of(st, s));
        after_sync(st, ev, &sink);
        return QK_OK;
    }
    plan_sync(st, s, need, how, qk__store_fleet_clock(st), &sink, &plan);
    slot_unlock(st->ctx.region, s);

    const int64_t sent_at = qk__store_caller_clock(st);
    qk__store_sync_reply reply;
    rc = st->backend->sync(c, &plan.req, &reply, deadline_ms);
    if (rc == QK_OK) {
        const int64_t back_at = qk__store_caller_clock(st);
        const int64_t measured = reply.server_ms - (sent_at + (back_at - sent_at) / 2);
        const int64_t believed = qk__store_offset_believed(atomic_load(&st->offset_ms), measured);
        atomic_store(&st->offset_ms, believed);
        const int trusted = believed == measured && back_at - sent_at <= 2 * QK__ROLLING_SKEW_MS;
        if ((rc = slot_lock_sealed(st->ctx.region, s)) == QK_OK) {
            merge_sync(st, s, &plan, &reply, trusted, &sink);
            /* A rolling window's grant in an answer too slow, or with a clock too far off, to
             * place the host in its piece went back unused (merge_sync): the consume waiting for
             * it has had no usable answer, and the outage policy decides it, as for no answer at
             * all. QK_ELIMIT would say the store had nothing left. */
            if (k != NULL && (trusted || !has_piece(&plan)))
                consume_locked(st, s, k, &sink);
            slot_unlock(st->ctx.region, s);
        }
    }
    qk_event health_ev;
    if (qk__store_count_outcome(st, rc, &health_ev))
        ev[sink.n++] = health_ev;
    pthread_mutex_unlock(sync_lock_of(st, s));
    after_sync(st, ev, &sink);
    return rc;
}

/* ---- a consume short of lease, and qk_store_sync ---- */

int qk__store_sync_for_consume(qk__store *st, qk_service s, uint64_t n, unsigned flags, int64_t now,
                               qk_usage *out, int *rc_out, unsigned *again)
{
    qk__sync_consume k = {n, flags, now, out, 0, QK_OK};
    int rc;
    qk__store_conn *c = qk__store_take_conn(st, &rc);
    if (c != NULL) {
        qk__store_sync_one(st, s, n, 0, qk__store_now_ms() + st->timeout_ms, c, &k);
        qk__store_give_conn(st, c);
    }
    if (k.answered && (k.rc == QK_OK || k.rc == QK_ELIMIT)) {
        *rc_out = k.rc;
        return 1;
    }
    /* No answer: the outage policy decides. Any other outcome (the store went degraded in the
     * meantime) is decided again, by the path that words its message. */
    *again = flags | (k.answered ? QK__CONSUME_AFTER_SYNC : QK__CONSUME_STORE_FAILED);
    return 0;
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

/* Whether a lease's counts include some the store has not acknowledged. Each counter on its
 * own: uses and refunds that cancel out still change this host's u and r at the store. */
static int unacked(const qk__lease *l)
{
    return l->used != l->acked_used || l->refunded != l->acked_refunded;
}

/* Whether service s holds a lease or has counts the store has not seen: what a last word is
 * for. */
static int owes_the_store(qk__store *st, qk_service s)
{
    if (slot_lock(st->ctx.region, s) != QK_OK)
        return 1; /* cannot tell: try */
    const qk_slot *sl = &st->ctx.region->slots[s];
    const qk__store_slot *ss = &st->area.slots[s];
    int owes = 0;
    for (unsigned i = 0; i < sl->n_windows; i++)
        owes |= qk__lease_left(&ss->cur[i]) > 0 || unacked(&ss->cur[i]) || unacked(&ss->prev[i]);
    slot_unlock(st->ctx.region, s);
    return owes;
}

/* Whether the store has counters of this host for service s: a window of it was synced. */
static int known_to_store(qk__store *st, qk_service s)
{
    if (slot_lock(st->ctx.region, s) != QK_OK)
        return 0;
    const qk__store_slot *ss = &st->area.slots[s];
    int known = 0;
    for (unsigned i = 0; i < QK_MAX_WINDOWS; i++)
        known |= ss->cur[i].synced || ss->prev[i].synced;
    slot_unlock(st->ctx.region, s);
    return known;
}

/* Whether a last word must go to service s: it owes the store, or, from a private tracker (whose
 * host id ends with it) while the store is up, the store knows it and is told the host left. */
static int last_word_for(qk__store *st, qk_service s, int final)
{
    return owes_the_store(st, s) || (final && known_to_store(st, s));
}

int qk__store_sync_all(qk__store *st, int64_t deadline_ms, int last_word)
{
    const uint32_t n = qk__region_published(st->ctx.region);
    /* A private tracker's host leaves with it: its last word retires it at the store, so a
     * fleet of short-lived hosts keeps no trace of them in the live keys. Not while the store is
     * out: the word would only cost the closing program a timeout, and silence retires it. */
    const int final = last_word && !st->ctx.shared &&
                      !atomic_load_explicit(&st->area.hdr->health.degraded, memory_order_relaxed);
    /* The last word of a tracker that holds nothing and owes nothing is no word: no connection,
     * so a store that is out costs a closing program nothing more. */
    int owed = !last_word;
    for (qk_service s = 0; !owed && s < n; s++)
        owed = last_word_for(st, s, final);
    if (!owed)
        return QK_OK;
    int rc;
    qk__store_conn *c = qk__store_take_conn(st, &rc);
    if (c == NULL)
        return rc;
    int first = QK_OK;
    char why[256] = "";
    for (qk_service s = 0; s < n && rc != QK_EUNAVAIL; s++) {
        if (last_word && !last_word_for(st, s, final))
            continue;
        /* The answer to a give-back can show a grant this host never heard of (a request whose
         * answer was lost, applied late): give that back too, a few rounds at most. A last word
         * needs one: the store gives back for the host what it still holds as it retires it. */
        const unsigned how = QK__SYNC_RELEASE | (final ? QK__SYNC_FINAL : 0);
        for (int round = 0; round < 3; round++)
            if ((rc = qk__store_sync_one(st, s, 0, how, deadline_ms, c, NULL)) != QK_OK || final ||
                !holds_lease(st, s))
                break;
        if (rc != QK_OK && first == QK_OK) {
            first = rc;
            snprintf(why, sizeof why, "%s", qk_errmsg());
        }
    }
    qk__store_give_conn(st, c);
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
    return qk__store_sync_all(st, qk__store_now_ms() + st->timeout_ms, 0);
}
