/* sharded: quotakeeper itself, through its public API only: a slot and a mutex per service,
 * snapshots under the snapshot lock and every slot lock. One window per service, QK_FOREVER,
 * so no count resets in the middle of a run (the roll check costs the same for every period).
 * Compiled a second time as sharded-shared (strategy_sharded_shared.c): the same tracker with
 * its slots in a state file (qk_options.path), robust process-shared mutexes and the update
 * journal. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "harness.h"

typedef struct {
    qk_tracker *tracker;
    uint32_t n;
    qk_usage *usage; /* snapshot buffer; the monitor is the only snapshotting thread */
    char path[256];  /* the state file, for sharded-shared */
} sharded_state;

static void *adapter_create(const perf_setup *setup)
{
    sharded_state *st = perf_alloc(sizeof *st);
    qk_service_def *defs = calloc(setup->n_services, sizeof *defs);
    st->usage = calloc(setup->n_services, sizeof *st->usage);
    if (defs == NULL || st->usage == NULL)
        perf_die("no memory for %u services", setup->n_services);
    for (uint32_t s = 0; s < setup->n_services; s++) {
        defs[s].name = setup->names[s];
        defs[s].windows[0] = (qk_window_def){QK_FOREVER, setup->limits[s]};
    }
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = defs;
    opts.n_services = setup->n_services;
#ifdef SHARDED_STATE_FILE
    /* A fresh file per run, where the machine keeps its temporary files. */
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    static unsigned runs;
    snprintf(st->path, sizeof st->path, "%s/qk_perf-%ld-%u.qkstate", dir, (long)getpid(), runs++);
    unlink(st->path);
    opts.path = st->path;
#endif
    const int rc = qk_tracker_new(&st->tracker, &opts);
    if (rc != QK_OK)
        perf_die("qk_tracker_new: %s", qk_errmsg());
    free(defs);
    st->n = setup->n_services;
    return st;
}

static void adapter_destroy(void *state)
{
    sharded_state *st = state;
    qk_tracker_free(st->tracker);
    if (st->path[0] != '\0')
        unlink(st->path);
    free(st->usage);
    free(st);
}

static inline void adapter_record(void *state, uint32_t s)
{
    sharded_state *st = state;
    qk_record(st->tracker, s, 1, NULL);
}

static inline bool adapter_consume(void *state, uint32_t s)
{
    sharded_state *st = state;
    return qk_try_consume(st->tracker, s, 1, 0, NULL) == QK_OK;
}

static inline void adapter_refund(void *state, uint32_t s)
{
    sharded_state *st = state;
    qk_refund(st->tracker, s, 1);
}

static void adapter_snapshot(void *state, uint64_t *used)
{
    sharded_state *st = state;
    size_t count = 0;
    if (qk_snapshot(st->tracker, st->usage, st->n, &count) != QK_OK || count != st->n)
        perf_die("qk_snapshot: %s", qk_errmsg());
    for (uint32_t s = 0; s < st->n; s++)
        used[s] = st->usage[s].windows[0].used;
}

#ifdef SHARDED_STATE_FILE
#define ADAPTER_SYMBOL perf_adapter_sharded_shared
#else
#define ADAPTER_SYMBOL perf_adapter_sharded
#endif
#include "strategy_template.h"
