/* The tracker: the public API over the slots.
 *
 * Lock hierarchy (docs/design.md): the snapshot lock, then slot locks by ascending index.
 * - Single-service operations take only their own slot lock.
 * - Operations over all services (snapshot, reset_all) and service_add take the snapshot lock
 *   first; the all-services ones then take every slot lock in ascending order.
 * - The clock is read, and events are delivered, with no lock held. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "lockorder.h"
#include "tracker.h"

/* Ceiling on capacity: keeps the region size far from overflow. */
#define QK_CAPACITY_MAX (UINT32_C(1) << 20)

static int64_t system_clock_ms(void *ctx)
{
    (void)ctx;
    /* The coarse clock costs a tenth of the precise one and its few milliseconds of resolution
     * do not matter for windows of a minute and more. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void slot_lock(qk_tracker *t, qk_service s)
{
    qk_lockorder_acquire(QK_RANK_SLOT(s));
    pthread_mutex_lock(&t->slots[s].lock);
}

static void slot_unlock(qk_tracker *t, qk_service s)
{
    pthread_mutex_unlock(&t->slots[s].lock);
    qk_lockorder_release(QK_RANK_SLOT(s));
}

static void snapshot_lock(qk_tracker *t)
{
    qk_lockorder_acquire(QK_RANK_SNAPSHOT);
    pthread_mutex_lock(&t->snapshot_lock);
}

static void snapshot_unlock(qk_tracker *t)
{
    pthread_mutex_unlock(&t->snapshot_lock);
    qk_lockorder_release(QK_RANK_SNAPSHOT);
}

static uint32_t published(const qk_tracker *t)
{
    return atomic_load_explicit(&t->n_services, memory_order_acquire);
}

/* Outside every lock: names the events and hands them to the callback. */
static void deliver(qk_tracker *t, qk_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ev[i].name = t->names[ev[i].service];
        t->on_event(&ev[i], t->payload);
    }
}

static int check_service(const qk_tracker *t, qk_service s)
{
    const uint32_t n = published(t);
    if (s >= n)
        return qk_fail(QK_ENOENT, "service index %u is not registered (%u services)", s, n);
    return QK_OK;
}

/* The one path for single-service operations: read the clock, lock the slot, apply, copy the
 * usage out, unlock, then deliver events. */
static int run_slot_op(qk_tracker *t, qk_service s, const qk_op *op, qk_usage *out)
{
    int rc = check_service(t, s);
    if (rc != QK_OK)
        return rc;
    const int64_t now = t->clock(t->clock_ctx);
    qk_slot *sl = &t->slots[s];
    qk_event ev[QK_EVENTS_PER_SLOT_OP];
    qk_event_sink sink = {t->on_event ? ev : NULL, 0};
    int tripped = -1;

    slot_lock(t, s);
    rc = qk_slot_apply(sl, s, op, now, &sink, &tripped);
    if (out != NULL && rc != QK_ERANGE)
        qk_slot_usage(sl, s, tripped, out);
    slot_unlock(t, s);

    if (out != NULL && rc != QK_ERANGE)
        memcpy(out->name, t->names[s], QK_NAME_MAX);
    if (sink.n > 0)
        deliver(t, ev, sink.n);
    if (rc == QK_ERANGE)
        return qk_fail(rc, "recording %llu calls to '%s' would overflow a window's count",
                       (unsigned long long)op->n, t->names[s]);
    return rc; /* QK_ELIMIT is an answer, not a fault: out->tripped tells which window */
}

#ifdef QK_MUTANT_RACY_RECORD
/* Test-only mutant (tests/mutation): the spec's bug shape. The whole tracker's counts are
 * copied out under the locks (the spec's "cached tracker"), the locks are dropped, the copy is
 * incremented for one service, and the whole copy is written back under the locks again, so a
 * record to any service that lands in between is overwritten. qk_mutant_hook runs in the gap so
 * a test can force that interleaving. Never compiled into the real library. */
#include "mutant.h"

void (*qk_mutant_hook)(void);

static void lock_all(qk_tracker *t, uint32_t n)
{
    snapshot_lock(t);
    for (uint32_t i = 0; i < n; i++)
        slot_lock(t, i);
}

static void unlock_all(qk_tracker *t, uint32_t n)
{
    for (uint32_t i = n; i-- > 0;)
        slot_unlock(t, i);
    snapshot_unlock(t);
}

static int mutant_racy_record(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out)
{
    int rc = check_service(t, s);
    if (rc != QK_OK)
        return rc;
    const uint32_t count = published(t);
    uint64_t(*copy)[QK_MAX_WINDOWS] = calloc(count, sizeof *copy);
    if (copy == NULL)
        return qk_fail(QK_ENOMEM, "mutant: no memory");

    lock_all(t, count);
    for (uint32_t i = 0; i < count; i++)
        for (unsigned w = 0; w < t->slots[i].n_windows; w++)
            copy[i][w] = t->slots[i].w[w].used;
    unlock_all(t, count);
    if (qk_mutant_hook != NULL)
        qk_mutant_hook();
    for (unsigned w = 0; w < t->slots[s].n_windows; w++)
        copy[s][w] += n;
    lock_all(t, count);
    for (uint32_t i = 0; i < count; i++)
        for (unsigned w = 0; w < t->slots[i].n_windows; w++)
            t->slots[i].w[w].used = copy[i][w];
    if (out != NULL)
        qk_slot_usage(&t->slots[s], s, -1, out);
    unlock_all(t, count);
    free(copy);
    if (out != NULL)
        memcpy(out->name, t->names[s], QK_NAME_MAX);
    return QK_OK;
}
#endif

int qk_record(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out)
{
    if (t == NULL || n == 0)
        return qk_fail(QK_EINVAL, t ? "n must be at least 1" : "tracker is NULL");
#ifdef QK_MUTANT_RACY_RECORD
    return mutant_racy_record(t, s, n, out);
#endif
    const qk_op op = {QK_OP_RECORD, n, 0, 0};
    return run_slot_op(t, s, &op, out);
}

int qk_try_consume(qk_tracker *t, qk_service s, uint64_t n, unsigned flags, qk_usage *out)
{
    if (t == NULL || n == 0)
        return qk_fail(QK_EINVAL, t ? "n must be at least 1" : "tracker is NULL");
    if (flags & ~(unsigned)QK_PRIORITY)
        return qk_fail(QK_EINVAL, "unknown flag bits 0x%x", flags & ~(unsigned)QK_PRIORITY);
    const qk_op op = {QK_OP_CONSUME, n, flags, 0};
    return run_slot_op(t, s, &op, out);
}

int qk_refund(qk_tracker *t, qk_service s, uint64_t n)
{
    if (t == NULL || n == 0)
        return qk_fail(QK_EINVAL, t ? "n must be at least 1" : "tracker is NULL");
    const qk_op op = {QK_OP_REFUND, n, 0, 0};
    return run_slot_op(t, s, &op, NULL);
}

int qk_peek(qk_tracker *t, qk_service s, qk_usage *out)
{
    if (t == NULL || out == NULL)
        return qk_fail(QK_EINVAL, t ? "out is NULL" : "tracker is NULL");
    const qk_op op = {QK_OP_PEEK, 0, 0, 0};
    return run_slot_op(t, s, &op, out);
}

int qk_set_used(qk_tracker *t, qk_service s, unsigned window, uint64_t used)
{
    if (t == NULL)
        return qk_fail(QK_EINVAL, "tracker is NULL");
    int rc = check_service(t, s);
    if (rc != QK_OK)
        return rc;
    /* n_windows is fixed once the service is published, so reading it unlocked is safe. */
    if (window >= t->slots[s].n_windows)
        return qk_fail(QK_EINVAL, "service '%s' has %u windows; there is no window %u", t->names[s],
                       t->slots[s].n_windows, window);
    const qk_op op = {QK_OP_SET_USED, used, 0, window};
    return run_slot_op(t, s, &op, NULL);
}

int qk_reset(qk_tracker *t, qk_service s)
{
    if (t == NULL)
        return qk_fail(QK_EINVAL, "tracker is NULL");
    const qk_op op = {QK_OP_RESET, 0, 0, 0};
    return run_slot_op(t, s, &op, NULL);
}

/* Applies op to every service at one instant: snapshot lock, then every slot lock in ascending
 * order, so the whole pass is one consistent cut. out (cap entries) receives the usages. */
static int run_all_op(qk_tracker *t, const qk_op *op, qk_usage *out, size_t cap, size_t *count)
{
    const int64_t now = t->clock(t->clock_ctx);
    qk_event *ev = NULL;

    snapshot_lock(t);
    const uint32_t n = published(t); /* stable: service_add needs the snapshot lock */
    if (out != NULL && cap < n) {
        snapshot_unlock(t);
        *count = n;
        return qk_fail(QK_ERANGE, "snapshot needs room for %u services, got %zu", n, cap);
    }
    /* Allocated before any slot lock: slot locks are leaves. A roll lowers a level at most once
     * per window. */
    if (t->on_event != NULL && n > 0) {
        ev = malloc((size_t)n * QK_MAX_WINDOWS * sizeof *ev);
        if (ev == NULL) {
            snapshot_unlock(t);
            return qk_fail(QK_ENOMEM, "no memory for the events of %u services", n);
        }
    }
    qk_event_sink sink = {ev, 0};

    for (uint32_t s = 0; s < n; s++)
        slot_lock(t, s);
    for (uint32_t s = 0; s < n; s++) {
        int unused = -1;
        qk_slot_apply(&t->slots[s], s, op, now, &sink, &unused);
        if (out != NULL)
            qk_slot_usage(&t->slots[s], s, -1, &out[s]);
    }
    for (uint32_t s = n; s-- > 0;)
        slot_unlock(t, s);
    snapshot_unlock(t);

    if (out != NULL)
        for (uint32_t s = 0; s < n; s++)
            memcpy(out[s].name, t->names[s], QK_NAME_MAX);
    if (count != NULL)
        *count = n;
    if (sink.n > 0)
        deliver(t, ev, sink.n);
    free(ev);
    return QK_OK;
}

int qk_reset_all(qk_tracker *t)
{
    if (t == NULL)
        return qk_fail(QK_EINVAL, "tracker is NULL");
    const qk_op op = {QK_OP_RESET, 0, 0, 0};
    return run_all_op(t, &op, NULL, 0, NULL);
}

int qk_snapshot(qk_tracker *t, qk_usage *out, size_t cap, size_t *count)
{
    if (t == NULL || count == NULL || (out == NULL && cap > 0))
        return qk_fail(QK_EINVAL, t == NULL       ? "tracker is NULL"
                                  : count == NULL ? "count is NULL"
                                                  : "out is NULL but cap is not 0");
    const qk_op op = {QK_OP_PEEK, 0, 0, 0};
    /* out may be NULL with cap 0: a query for the number needed, answered with QK_ERANGE when
     * there are services. */
    qk_usage none;
    return run_all_op(t, &op, out ? out : &none, cap, count);
}

static int check_name(const char *name)
{
    if (name == NULL)
        return qk_fail(QK_EINVAL, "service name is NULL");
    const size_t len = strnlen(name, QK_NAME_MAX);
    if (len == 0)
        return qk_fail(QK_EINVAL, "service name is empty");
    if (len == QK_NAME_MAX)
        return qk_fail(QK_EINVAL, "service name is longer than %d characters", QK_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        const char c = name[i];
        const int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '.' || c == '-';
        if (!ok)
            return qk_fail(QK_EINVAL,
                           "service name '%s' has a character outside [A-Za-z0-9_.-] at %zu", name,
                           i);
    }
    return QK_OK;
}

/* Validates def and returns the number of windows (> 0) or a negative error. */
static int check_def(const qk_service_def *def)
{
    int rc = check_name(def->name);
    if (rc != QK_OK)
        return rc;
    unsigned n = 0;
    while (n < QK_MAX_WINDOWS && def->windows[n].limit != 0)
        n++;
    if (n == 0)
        return qk_fail(QK_EINVAL, "service '%s' has no windows", def->name);
    for (unsigned i = n; i < QK_MAX_WINDOWS; i++)
        if (def->windows[i].limit != 0)
            return qk_fail(QK_EINVAL,
                           "service '%s': window %u follows the list's end (window %u "
                           "has limit 0)",
                           def->name, i, n);
    for (unsigned i = 0; i < n; i++) {
        if (!qk_period_valid((int)def->windows[i].period))
            return qk_fail(QK_EINVAL, "service '%s': window %u has unknown period %d", def->name, i,
                           (int)def->windows[i].period);
        if (def->reserve >= def->windows[i].limit)
            return qk_fail(QK_EINVAL,
                           "service '%s': reserve %llu is not below window %u's limit %llu",
                           def->name, (unsigned long long)def->reserve, i,
                           (unsigned long long)def->windows[i].limit);
    }
    if (def->warn_pct > 100 || def->critical_pct > 100)
        return qk_fail(QK_EINVAL, "service '%s': a threshold is above 100%%", def->name);
    const unsigned warn = def->warn_pct ? def->warn_pct : 50;
    const unsigned crit = def->critical_pct ? def->critical_pct : 80;
    if (warn > crit)
        return qk_fail(QK_EINVAL, "service '%s': warn %u%% is above critical %u%%", def->name, warn,
                       crit);
    return (int)n;
}

static int find_locked(const qk_tracker *t, const char *name, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(t->names[i], name) == 0)
            return (int)i;
    return -1;
}

int qk_service_add(qk_tracker *t, const qk_service_def *def, qk_service *out)
{
    if (t == NULL || def == NULL)
        return qk_fail(QK_EINVAL, t ? "service definition is NULL" : "tracker is NULL");
    const int n_windows = check_def(def);
    if (n_windows < 0)
        return n_windows;
    const int64_t now = t->clock(t->clock_ctx);

    snapshot_lock(t);
    const uint32_t n = published(t);
    if (find_locked(t, def->name, n) >= 0) {
        snapshot_unlock(t);
        return qk_fail(QK_EEXIST, "service '%s' is already registered", def->name);
    }
    if (n == t->capacity) {
        snapshot_unlock(t);
        return qk_fail(QK_EFULL, "cannot add '%s': all %u slots are in use", def->name, n);
    }
    /* Slot n is invisible to other threads until n_services is published below. */
    qk_slot *sl = &t->slots[n];
    sl->n_windows = (uint32_t)n_windows;
    sl->seq = 0;
    sl->reserve = def->reserve;
    for (int i = 0; i < n_windows; i++)
        qk_window_init(&sl->w[i], def->windows[i].period, def->windows[i].limit,
                       def->warn_pct ? def->warn_pct : 50,
                       def->critical_pct ? def->critical_pct : 80, now);
    strcpy(t->names[n], def->name);
    atomic_store_explicit(&t->n_services, n + 1, memory_order_release);
    snapshot_unlock(t);

    if (out != NULL)
        *out = n;
    return QK_OK;
}

int qk_service_find(const qk_tracker *t, const char *name, qk_service *out)
{
    if (t == NULL || name == NULL || out == NULL)
        return qk_fail(QK_EINVAL, "%s is NULL", t == NULL ? "tracker" : name ? "out" : "name");
    const int i = find_locked(t, name, published(t));
    if (i < 0)
        return qk_fail(QK_ENOENT, "no service named '%.*s'", QK_NAME_MAX, name);
    *out = (qk_service)i;
    return QK_OK;
}

size_t qk_service_count(const qk_tracker *t)
{
    return t ? published(t) : 0;
}

static void destroy(qk_tracker *t)
{
    for (uint32_t i = 0; i < t->capacity; i++)
        pthread_mutex_destroy(&t->slots[i].lock);
    pthread_mutex_destroy(&t->snapshot_lock);
    free(t->slots);
    free(t->names);
    free(t);
}

int qk_tracker_new(qk_tracker **out, const qk_options *opts)
{
    if (out == NULL || opts == NULL)
        return qk_fail(QK_EINVAL, "%s is NULL", out ? "options" : "out");
    if (opts->version != QK_OPTIONS_VERSION)
        return qk_fail(QK_EINVAL, "options version %u is not supported (this library: %d)",
                       opts->version, QK_OPTIONS_VERSION);
    if (opts->services == NULL && opts->n_services > 0)
        return qk_fail(QK_EINVAL, "services is NULL but n_services is %zu", opts->n_services);
    const size_t capacity = opts->capacity ? opts->capacity : opts->n_services;
    if (capacity == 0)
        return qk_fail(QK_EINVAL, "capacity is 0: no service could ever be added");
    if (capacity < opts->n_services)
        return qk_fail(QK_EINVAL, "capacity %zu is below n_services %zu", capacity,
                       opts->n_services);
    if (capacity > QK_CAPACITY_MAX)
        return qk_fail(QK_EINVAL, "capacity %zu is above the maximum %u", capacity,
                       (unsigned)QK_CAPACITY_MAX);

    qk_tracker *t = calloc(1, sizeof *t);
    if (t == NULL)
        return qk_fail(QK_ENOMEM, "no memory for the tracker");
    t->slots = aligned_alloc(_Alignof(qk_slot), capacity * sizeof *t->slots);
    t->names = calloc(capacity, sizeof *t->names);
    if (t->slots == NULL || t->names == NULL) {
        free(t->slots);
        free(t->names);
        free(t);
        return qk_fail(QK_ENOMEM, "no memory for %zu service slots", capacity);
    }
    t->capacity = (uint32_t)capacity;
    atomic_init(&t->n_services, 0);
    t->clock = opts->clock ? opts->clock : system_clock_ms;
    t->clock_ctx = opts->clock_ctx;
    t->on_event = opts->on_event;
    t->payload = opts->payload;
    pthread_mutex_init(&t->snapshot_lock, NULL);
    /* Every slot's mutex exists from the start so that freeing never depends on how many
     * services were added. */
    for (uint32_t i = 0; i < t->capacity; i++)
        pthread_mutex_init(&t->slots[i].lock, NULL);

    for (size_t i = 0; i < opts->n_services; i++) {
        const int rc = qk_service_add(t, &opts->services[i], NULL);
        if (rc != QK_OK) {
            destroy(t);
            return rc;
        }
    }
    *out = t;
    return QK_OK;
}

void qk_tracker_free(qk_tracker *t)
{
    if (t != NULL)
        destroy(t);
}
