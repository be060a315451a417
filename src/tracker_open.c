/* Opening and closing a tracker: options of every version, private memory or a state file
 * (read-write or read-only), an existing file's reconciliation with the configured services,
 * flush, and fork(). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "locking.h"
#include "tracker.h"
#include "service_def.h"
#include "store/engine.h"
#include "store/store.h"

/* Reads opts of any supported version into the current layout; fields a version lacks keep
 * their QK_OPTIONS_INIT values. */
static int read_options(qk_options *o, const qk_options *in)
{
    static const size_t size_by_version[] = {0, offsetof(qk_options, path),
                                             offsetof(qk_options, flags), sizeof(qk_options),
                                             sizeof(qk_options)};
    if (in->version == 0 || in->version > QK_OPTIONS_VERSION)
        return qk__fail(QK_EINVAL, "options version %u is not supported (this library: 1 to %d)",
                        in->version, QK_OPTIONS_VERSION);
    *o = (qk_options)QK_OPTIONS_INIT;
    memcpy(o, in, size_by_version[in->version]);
    return QK_OK;
}

static int check_flags(const qk_options *o)
{
    if (o->flags & ~(unsigned)QK_OPEN_READONLY)
        return qk__fail(QK_EINVAL, "unknown flag bits 0x%x",
                        o->flags & ~(unsigned)QK_OPEN_READONLY);
    if (!(o->flags & QK_OPEN_READONLY))
        return QK_OK;
    if (o->path == NULL)
        return qk__fail(QK_EINVAL, "QK_OPEN_READONLY needs a state file (path)");
    if (o->n_services > 0)
        return qk__fail(QK_EINVAL, "QK_OPEN_READONLY takes the file's services as they are: "
                                   "n_services must be 0");
    if (o->store != NULL)
        return qk__fail(QK_EINVAL, "QK_OPEN_READONLY cannot attach a store");
    return QK_OK;
}

/* Everything but the services' definitions, which need the tracker to live in. */
static int check_options(const qk_options *o)
{
    if (o->services == NULL && o->n_services > 0)
        return qk__fail(QK_EINVAL, "services is NULL but n_services is %zu", o->n_services);
    const size_t capacity = o->capacity ? o->capacity : o->n_services;
    if (capacity == 0 && o->path == NULL)
        return qk__fail(QK_EINVAL, "capacity is 0: no service could ever be added");
    if (capacity < o->n_services)
        return qk__fail(QK_EINVAL, "capacity %zu is below n_services %zu", capacity, o->n_services);
    if (capacity > QK_CAPACITY_MAX)
        return qk__fail(QK_EINVAL, "capacity %zu is above the maximum %u", capacity,
                        (unsigned)QK_CAPACITY_MAX);
    if (o->mode > 07777)
        return qk__fail(QK_EINVAL, "mode 0%o has bits beyond 07777", o->mode);
    int rc = check_flags(o);
    if (rc != QK_OK)
        return rc;
    if (o->store_timeout_ms < 0)
        return qk__fail(QK_EINVAL, "store_timeout_ms %lld is negative",
                        (long long)o->store_timeout_ms);
    if (o->store != NULL) {
        const qk__store_backend *backend;
        qk__store_url url;
        rc = qk__store_check(o->store, &backend, &url);
        explicit_bzero(&url, sizeof url); /* only checked here: no copy of the password stays */
        if (rc != QK_OK)
            return rc;
    }
    return QK_OK;
}

/* Reads the caller's definitions into t->configured and checks their names are distinct. */
static int read_services(qk_tracker *t, const qk_options *o)
{
    for (size_t i = 0; i < o->n_services; i++) {
        qk__checked_def *d = &t->configured[i];
        const int rc = qk__service_def_read(d, o->services, i, o->version);
        if (rc != QK_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->configured[j].def.name, d->def.name) == 0)
                return qk__fail(QK_EEXIST, "service '%s' is defined twice", d->def.name);
    }
    t->n_configured = o->n_services;
    return QK_OK;
}

/* A file other processes are using: their slots can only be read under their locks. */
static int check_warm_slots(qk_tracker *t)
{
    const uint32_t n = qk__published(t);
    for (uint32_t s = 0; s < n; s++) {
        char why[160];
        int rc = slot_lock(&t->region, s);
        if (rc != QK_OK)
            return rc;
        rc = qk__region_check_slot(&t->slots[s], &t->region.ext,
                                   atomic_load(&t->region.hdr->all_op_committed), t->names[s], s,
                                   why, sizeof why);
        slot_unlock(&t->region, s);
        if (rc != QK_OK)
            return qk__fail(rc, "state file: %s", why);
    }
    return QK_OK;
}

static const qk__checked_def *configured(const qk_tracker *t, const char *name)
{
    for (size_t i = 0; i < t->n_configured; i++)
        if (strcmp(t->configured[i].def.name, name) == 0)
            return &t->configured[i];
    return NULL;
}

/* An existing state file meets the options: the missing services are added, every stored
 * window is rolled to now, configured services take their new definitions (counts kept by name
 * and period), and stored services that are not configured are kept. Nothing changes on
 * error: everything that can fail happens before the first change, but for a ring damaged after
 * the open checked it, which its slot's redefinition refuses (slots before it stay redefined). */
static int reconcile(qk_tracker *t, const qk__zones_loaded *zones, qk_event **events,
                     size_t *n_events)
{
    const size_t n_services = t->n_configured;
    const int64_t now = qk__read_clock(t);
    /* Names and room are checked and the missing services added in one hold of the snapshot
     * lock, which serialises with qk_service_add in every process sharing the file. */
    int rc = snapshot_lock(&t->region);
    if (rc != QK_OK)
        return rc;
    const uint32_t stored = qk__published(t);
    size_t missing = 0;
    for (size_t i = 0; i < n_services; i++)
        missing += qk__find_name(t, t->configured[i].def.name, stored) < 0;
    qk_event *ev = NULL;
    if (missing > t->capacity - stored)
        rc = qk__fail(QK_EFULL,
                      "the state file has room for %u services; %u are stored and %zu more are "
                      "configured",
                      t->capacity, stored, missing);
    else if (t->on_event != NULL && stored > 0 &&
             (ev = malloc((size_t)stored * QK_EVENTS_PER_SLOT_OP * sizeof *ev)) == NULL)
        rc = qk__fail(QK_ENOMEM, "no memory for the events of %u services", stored);
    /* The zones last, in the same hold, once nothing else can refuse: a refused open leaves
     * the file's zone table as it was. */
    if (rc == QK_OK)
        rc = qk__zones_publish(t, t->configured, n_services, zones, 1);
    for (size_t i = 0; rc == QK_OK && i < n_services; i++)
        if (qk__find_name(t, t->configured[i].def.name, stored) < 0)
            qk__add_locked(t, &t->configured[i], now);
    snapshot_unlock(&t->region);
    if (rc != QK_OK) {
        free(ev);
        return rc;
    }

    qk_event_sink sink = {ev, 0, 0};
    for (uint32_t s = 0; s < stored; s++) {
        const qk__checked_def *d = configured(t, t->names[s]);
        rc = slot_lock(&t->region, s);
        if (rc != QK_OK) {
            free(ev);
            return rc;
        }
        qk_slot *sl = &t->slots[s];
        qk__slot_begin(sl, 0, QK_MAX_WINDOWS);
        const qk_op roll = {QK_OP_PEEK, 0, 0, 0};
        int unused = -1;
        qk__slot_apply(sl, &t->region.ext, s, &roll, now, &sink, &unused);
        /* Its ring was checked at the open, in another hold: configure checks it again in
         * this one before carrying its buckets (it changes nothing when it refuses). */
        if (d != NULL)
            rc = qk__slot_configure(sl, &t->region.ext, s, &d->def, d->n_windows, d->zone, now,
                                    &sink);
        qk__slot_end(sl);
        slot_unlock(&t->region, s);
        if (rc != QK_OK) {
            free(ev);
            return qk__fail(rc,
                            "service '%s': its rolling windows' buckets fail their seal "
                            "(changed outside the library); it was not redefined",
                            t->names[s]);
        }
    }
    *events = ev;
    *n_events = sink.n;
    return QK_OK;
}

/* The store's one way up: its sync thread's events, delivered like the tracker's own. */
static void deliver_from_store(void *owner, qk_event *ev, size_t n)
{
    qk__deliver(owner, ev, n);
}

/* The store sees the region, the caller's clock and the callback above, never the tracker; its
 * clock offset reaches the tracker through qk__tracker_now. */
static int attach_store(qk_tracker *t, const qk_options *o)
{
    const qk__store_ctx ctx = {
        .region = &t->region,
        .shared = (t->mode & QK__MODE_SHARED) != 0,
        .clock = t->clock == qk__system_clock_ms ? NULL : t->clock,
        .clock_ctx = t->clock_ctx,
        .deliver = deliver_from_store,
        .owner = t,
    };
    const int rc = qk__store_attach(&t->store, &ctx, o, t->configured, t->n_configured);
    if (rc == QK_OK)
        t->mode |= QK__MODE_STORE | (ctx.clock == NULL ? QK__MODE_STORE_SYSCLOCK : 0u);
    return rc;
}

/* Opens the region o asks for and brings it in line with t's configured services. */
static int open_region(qk_tracker *t, const qk_options *o, const qk__zones_loaded *zones,
                       qk_event **ev, size_t *n_ev)
{
    const uint32_t capacity = (uint32_t)(o->capacity ? o->capacity : o->n_services);
    const int readonly = (o->flags & QK_OPEN_READONLY) != 0;
    int created = 1, cold = 1;
    int rc = o->path ? qk__region_open_file(&t->region, o->path, o->mode ? o->mode : 0600, capacity,
                                            readonly, &created, &cold)
                     : qk__region_new_private(&t->region, capacity);
    if (rc != QK_OK)
        return rc;
    t->slots = t->region.slots;
    t->names = t->region.names;
    t->capacity = t->region.hdr->capacity;
    t->mode = (t->region.hdr->shared ? QK__MODE_SHARED : 0u) | (readonly ? QK__MODE_READONLY : 0u);
    for (size_t i = 0; rc == QK_OK && i < t->n_configured; i++)
        rc = qk__shapes_supported(t, &t->configured[i].def);
    /* A new region's zones now; an existing file's in reconcile, after its checks. */
    if (rc == QK_OK && created)
        rc = qk__zones_publish(t, t->configured, t->n_configured, zones, 0);
    if (rc != QK_OK) {
        qk__region_open_done(&t->region);
        qk__region_free(&t->region);
        return rc;
    }

    if (created) {
        const int64_t now = qk__read_clock(t);
        for (size_t i = 0; i < t->n_configured; i++)
            qk__add_locked(t, &t->configured[i], now);
    } else {
        rc = cold ? QK_OK : check_warm_slots(t);
        if (rc == QK_OK && !readonly)
            rc = reconcile(t, zones, ev, n_ev);
    }
    /* Under the open lock: a state file's store area is made or checked by one process. */
    if (rc == QK_OK && o->store != NULL)
        rc = attach_store(t, o);
    qk__region_open_done(&t->region);
    if (rc == QK_OK && t->store != NULL)
        rc = qk__store_start(t->store);
    if (rc != QK_OK) {
        qk__store_detach(t->store);
        t->store = NULL;
        qk__region_free(&t->region);
        return rc;
    }
    /* The caller's name strings may go once qk_tracker_new returns; the region's copies stay. */
    for (size_t i = 0; i < t->n_configured; i++) {
        qk__checked_def *d = &t->configured[i];
        d->def.name = t->names[created ? (uint32_t)i
                                       : (uint32_t)qk__find_name(t, d->def.name, qk__published(t))];
    }
    return QK_OK;
}

int qk_tracker_new(qk_tracker **out, const qk_options *opts)
{
    if (out == NULL || opts == NULL)
        return qk__fail(QK_EINVAL, "%s is NULL", out ? "options" : "out");
    qk_options o;
    int rc = read_options(&o, opts);
    if (rc == QK_OK)
        rc = check_options(&o);
    if (rc != QK_OK)
        return rc;
    qk_tracker *t = calloc(1, sizeof *t + o.n_services * sizeof t->configured[0]);
    if (t == NULL)
        return qk__fail(QK_ENOMEM, "no memory for the tracker");
    t->clock = o.clock ? o.clock : qk__system_clock_ms;
    t->clock_ctx = o.clock_ctx;
    t->on_event = o.on_event;
    t->payload = o.payload;
    t->api_version = o.version;

    qk_event *ev = NULL;
    size_t n_ev = 0;
    rc = read_services(t, &o);
    /* Zones are read before anything is opened or created: a bad zone changes nothing. */
    qk__zones_loaded zones = {NULL, 0};
    if (rc == QK_OK)
        rc = qk__zones_load(&zones, t->configured, t->n_configured, NULL);
    if (rc == QK_OK)
        rc = open_region(t, &o, &zones, &ev, &n_ev);
    qk__zones_loaded_free(&zones);
    if (rc != QK_OK) {
        free(ev);
        free(t);
        return rc;
    }
    if (n_ev > 0)
        qk__deliver(t, ev, n_ev);
    free(ev);
    *out = t;
    return QK_OK;
}

void qk_tracker_free(qk_tracker *t)
{
    if (t != NULL) {
        qk__store_detach(t->store); /* the last counts out, unused leases back */
        t->store = NULL;
        qk__region_free(&t->region);
        free(t);
    }
}

int qk_tracker_flush(qk_tracker *t)
{
    if (t == NULL)
        return qk__fail(QK_EINVAL, "tracker is NULL");
    return qk__region_flush(&t->region);
}

/* fork(): a private tracker's mutexes are copied into the child in whatever state the parent's
 * threads held them, so prepare takes them all (in hierarchy order) and the child makes fresh
 * ones. A shared tracker's mutexes are not copied at all: parent and child map the same file,
 * so there is nothing to do. */
void qk_atfork_prepare(qk_tracker *t)
{
    /* Unpublished slots are never locked, and the snapshot lock keeps the count still. */
    if (t != NULL && !(t->mode & QK__MODE_SHARED))
        lock_all(&t->region, qk__published(t));
}

void qk_atfork_parent(qk_tracker *t)
{
    if (t != NULL && !(t->mode & QK__MODE_SHARED))
        unlock_all(&t->region, qk__published(t));
}

void qk_atfork_child(qk_tracker *t)
{
    if (t == NULL || (t->mode & QK__MODE_SHARED))
        return;
    for (uint32_t s = t->capacity; s-- > 0;)
        qk__region_init_mutex(&t->region, &t->slots[s].lock);
    for (uint32_t s = qk__published(t); s-- > 0;)
        qk__lockorder_release(QK_RANK_SLOT(s));
    qk__region_init_mutex(&t->region, &t->region.hdr->snapshot_lock);
    qk__lockorder_release(QK_RANK_SNAPSHOT);
}
