/* The sync thread (sync.h): it wakes every TICK_MS, or when a consume's lease runs low, sends
 * what the store has not seen, refills leases that run low, gives back idle ones, and probes a
 * store that is out until it answers again. */
#include <time.h>

#include "error.h"
#include "locking.h"
#include "store/sync.h"

/* The background thread's rhythm: how often it looks, how old unsynced use may get, when an
 * idle lease goes back. */
#define TICK_MS         250
#define REPORT_EVERY_MS 1000
#define IDLE_RELEASE_MS 30000

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
        if (!idle && ss->last_use_ms != 0 && !ss->released &&
            (!(sl->w[i].flags & QK_WINDOW_ROLLING) ||
             qk__lease_piece_worth(ss->rate_per_s, c->end_ms - now)))
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
    if (qk__store_count_outcome(st, rc, &ev))
        qk__store_deliver(st, &ev, 1);
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
                const int want = wants_sync(st, s, qk__store_fleet_clock(st), &release);
                slot_unlock(st->ctx.region, s);
                if (!want)
                    continue;
                tried = 1;
                rc = qk__store_sync_one(st, s, 0, release ? QK__SYNC_RELEASE : 0,
                                        qk__store_now_ms() + st->timeout_ms, c, NULL);
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

int qk__store_start(qk__store *st)
{
    if (pthread_create(&st->thread, NULL, sync_thread, st) != 0)
        return qk__fail(QK_ENOMEM, "cannot start the store's sync thread");
    st->thread_started = 1;
    return QK_OK;
}

void qk__store_thread_stop(qk__store *st)
{
    if (!st->thread_started)
        return;
    pthread_mutex_lock(&st->mu);
    st->stopping = 1;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL);
    st->thread_started = 0;
}
