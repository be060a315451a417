#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "leased.h"

static void warm_up(qk_tracker *t, uint32_t s, uint64_t limit, uint64_t warm_ns)
{
    const uint64_t until = perf_now_ns() + warm_ns;
    qk_store_service_info si[PERF_MAX_SERVICES];
    qk_store_info info = {.version = QK_STORE_INFO_VERSION, .services = si, .cap = s + 1};
    while (perf_now_ns() < until) {
        if (qk_try_consume(t, s, 1, 0, NULL) == QK_OK)
            qk_refund(t, s, 1);
        if (qk_store_status(t, &info) != QK_OK)
            perf_die("qk_store_status: %s", qk_errmsg());
        const uint64_t held = si[s].windows[0].held;
        if (held >= 100000 || held * 4 >= limit)
            return;
    }
}

perf_leased *perf_leased_open(const perf_setup *setup, const char *url, const char *prefix,
                              int64_t timeout_ms, uint64_t warm_ns)
{
    static unsigned instances;
    perf_leased *l = perf_alloc(sizeof *l);
    l->n = setup->n_services;
    qk_service_def *defs = calloc(l->n, sizeof *defs);
    l->usage = calloc(l->n, sizeof *l->usage);
    l->names = calloc(l->n, sizeof *l->names);
    if (defs == NULL || l->usage == NULL || l->names == NULL)
        perf_die("no memory for %u services", l->n);
    const unsigned instance = __atomic_fetch_add(&instances, 1, __ATOMIC_RELAXED);
    for (uint32_t s = 0; s < l->n; s++) {
        snprintf(l->names[s], sizeof l->names[s], "%s%ld.%u.%s", prefix, (long)getpid(), instance,
                 setup->names[s]);
        defs[s].name = l->names[s];
        defs[s].windows[0] = (qk_window_def){QK_FOREVER, setup->limits[s]};
        defs[s].lease_max = PERF_LEASED_LEASE_MAX;
    }
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = defs;
    opts.n_services = l->n;
    opts.store = url;
    opts.store_timeout_ms = timeout_ms;
    if (qk_tracker_new(&l->tracker, &opts) != QK_OK)
        perf_die("qk_tracker_new: %s", qk_errmsg());
    free(defs);
    for (uint32_t s = 0; s < l->n; s++)
        warm_up(l->tracker, s, setup->limits[s], warm_ns);
    return l;
}

void perf_leased_close_tracker(perf_leased *l)
{
    qk_tracker_free(l->tracker);
    l->tracker = NULL;
}

void perf_leased_free(perf_leased *l)
{
    free(l->names);
    free(l->usage);
    free(l);
}

void perf_leased_snapshot(perf_leased *l, uint64_t *used)
{
    size_t count = 0;
    if (qk_snapshot(l->tracker, l->usage, l->n, &count) != QK_OK || count != l->n)
        perf_die("qk_snapshot: %s", qk_errmsg());
    for (uint32_t s = 0; s < l->n; s++)
        used[s] = l->usage[s].windows[0].used;
}

void perf_leased_refused(perf_leased *l, uint32_t s, int rc)
{
    const char *why = rc == QK_ELIMIT ? NULL : qk_errmsg();
    char msg[512];
    if (rc == QK_ELIMIT) {
        qk_usage u;
        if (qk_peek(l->tracker, s, &u) != QK_OK || u.windows[0].used + 1 > u.windows[0].limit)
            return; /* a plain refusal at the limit */
        snprintf(msg, sizeof msg, "QK_ELIMIT at %llu of %llu used",
                 (unsigned long long)u.windows[0].used, (unsigned long long)u.windows[0].limit);
        why = msg;
    }
    if (atomic_fetch_add(&l->told, 1) < 5)
        fprintf(stderr, "qk_perf: %s: consume refused (%s): %s\n", l->names[s], qk_err_name(rc),
                why);
}

uint64_t perf_leased_syncs(perf_leased *l)
{
    qk_store_info info = {.version = QK_STORE_INFO_VERSION};
    if (qk_store_status(l->tracker, &info) != QK_OK)
        perf_die("qk_store_status: %s", qk_errmsg());
    return info.syncs;
}
