/* Opening and closing a tracker: options of every version, private memory or a state file,
 * an existing file's reconciliation with the configured services, flush, and fork(). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "locking.h"
#include "service_def.h"

/* Reads opts of any supported version into the current layout; fields a version lacks keep
 * their QK_OPTIONS_INIT values. */
static int read_options(qk_options *o, const qk_options *in)
{
    static const size_t size_by_version[] = {0, offsetof(qk_options, path), sizeof(qk_options)};
    if (in->version == 0 || in->version > QK_OPTIONS_VERSION)
        return qk__fail(QK_EINVAL, "options version %u is not supported (this library: 1 to %d)",
                        in->version, QK_OPTIONS_VERSION);
    *o = (qk_options)QK_OPTIONS_INIT;
    memcpy(o, in, size_by_version[in->version]);
    return QK_OK;
}

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
    for (size_t i = 0; i < o->n_services; i++) {
        const int rc = qk__service_def_check(&o->services[i]);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->services[j].name, o->services[i].name) == 0)
                return qk__fail(QK_EEXIST, "service '%s' is defined twice", o->services[i].name);
    }
    return QK_OK;
}

/* A file other processes are using: their slots can only be read under their locks. */
static int check_warm_slots(qk_tracker *t)
{
    const uint32_t n = qk__published(t);
    for (uint32_t s = 0; s < n; s++) {
        char why[160];
        int rc = slot_lock(t, s);
        if (rc != QK_OK)
            return rc;
        rc = qk__region_check_slot(&t->slots[s], t->names[s], s, why, sizeof why);
        slot_unlock(t, s);
        if (rc != QK_OK)
            return qk__fail(rc, "state file: %s", why);
    }
    return QK_OK;
}

static const qk_service_def *configured(const qk_options *o, const char *name)
{
    for (size_t i = 0; i < o->n_services; i++)
        if (strcmp(o->services[i].name, name) == 0)
            return &o->services[i];
    return NULL;
}

/* An existing state file meets the options: the missing services are added, every stored
 * window is rolled to now, configured services take their new definitions (counts kept by name
 * and period), and stored services that are not configured are kept. Nothing changes on
 * error: everything that can fail happens before the first change. */
static int reconcile(qk_tracker *t, const qk_options *o, qk_event **events, size_t *n_events)
{
    const int64_t now = qk__read_clock(t);
    /* Names and room are checked and the missing services added in one hold of the snapshot
     * lock, which serialises with qk_service_add in every process sharing the file. */
    int rc = snapshot_lock(t);
    if (rc != QK_OK)
        return rc;
    const uint32_t stored = qk__published(t);
    size_t missing = 0;
    for (size_t i = 0; i < o->n_services; i++)
        missing += qk__find_name(t, o->services[i].name, stored) < 0;
    qk_event *ev = NULL;
    if (missing > t->capacity - stored)
        rc = qk__fail(QK_EFULL,
                      "the state file has room for %u services; %u are stored and %zu more are "
                      "configured",
                      t->capacity, stored, missing);
    else if (t->on_event != NULL && stored > 0 &&
             (ev = malloc((size_t)stored * QK_EVENTS_PER_SLOT_OP * sizeof *ev)) == NULL)
        rc = qk__fail(QK_ENOMEM, "no memory for the events of %u services", stored);
    for (size_t i = 0; rc == QK_OK && i < o->n_services; i++)
        if (qk__find_name(t, o->services[i].name, stored) < 0)
            qk__add_locked(t, &o->services[i], (unsigned)qk__service_def_check(&o->services[i]),
                           now);
    snapshot_unlock(t);
    if (rc != QK_OK)
        return rc;

    qk_event_sink sink = {ev, 0};
    for (uint32_t s = 0; s < stored; s++) {
        const qk_service_def *def = configured(o, t->names[s]);
        rc = slot_lock(t, s);
        if (rc != QK_OK) {
            free(ev);
            return rc;
        }
        qk_slot *sl = &t->slots[s];
        qk__slot_begin(sl, 0, QK_MAX_WINDOWS);
        const qk_op roll = {QK_OP_PEEK, 0, 0, 0};
        int unused = -1;
        qk__slot_apply(sl, s, &roll, now, &sink, &unused);
        if (def != NULL)
            qk__slot_configure(sl, s, def, (unsigned)qk__service_def_check(def), now, &sink);
        qk__slot_end(sl);
        slot_unlock(t, s);
    }
    *events = ev;
    *n_events = sink.n;
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

    qk_tracker *t = calloc(1, sizeof *t);
    if (t == NULL)
        return qk__fail(QK_ENOMEM, "no memory for the tracker");
    t->clock = o.clock ? o.clock : qk__system_clock_ms;
    t->clock_ctx = o.clock_ctx;
    t->on_event = o.on_event;
    t->payload = o.payload;
    const uint32_t capacity = (uint32_t)(o.capacity ? o.capacity : o.n_services);
    int created = 1, cold = 1;
    rc = o.path ? qk__region_open_file(&t->region, o.path, o.mode ? o.mode : 0600, capacity,
                                       &created, &cold)
                : qk__region_new_private(&t->region, capacity);
    if (rc != QK_OK) {
        free(t);
        return rc;
    }
    t->slots = t->region.slots;
    t->names = t->region.names;
    t->capacity = t->region.hdr->capacity;
    t->journal = t->region.hdr->shared != 0;

    qk_event *ev = NULL;
    size_t n_ev = 0;
    if (created) {
        const int64_t now = qk__read_clock(t);
        for (size_t i = 0; i < o.n_services; i++)
            qk__add_locked(t, &o.services[i], (unsigned)qk__service_def_check(&o.services[i]), now);
    } else {
        rc = cold ? QK_OK : check_warm_slots(t);
        if (rc == QK_OK)
            rc = reconcile(t, &o, &ev, &n_ev);
    }
    qk__region_open_done(&t->region);
    if (rc != QK_OK) {
        qk__region_free(&t->region);
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
    if (t != NULL && !t->journal)
        lock_all(t, qk__published(t));
}

void qk_atfork_parent(qk_tracker *t)
{
    if (t != NULL && !t->journal)
        unlock_all(t, qk__published(t));
}

void qk_atfork_child(qk_tracker *t)
{
    if (t == NULL || t->journal)
        return;
    for (uint32_t s = t->capacity; s-- > 0;)
        qk__region_init_mutex(&t->region, &t->slots[s].lock);
    for (uint32_t s = qk__published(t); s-- > 0;)
        qk__lockorder_release(QK_RANK_SLOT(s));
    qk__region_init_mutex(&t->region, &t->region.hdr->snapshot_lock);
    qk__lockorder_release(QK_RANK_SNAPSHOT);
}
