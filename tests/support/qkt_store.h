/* Criterion conveniences for tests of a store tracker, whatever the backend (tests/store with
 * redis-server, tests/store_ddb with dynalite): options, opening, status, a one-window service. */
#ifndef QKT_STORE_H
#define QKT_STORE_H

#include <criterion/criterion.h>
#include <string.h>

#include "quotakeeper.h"

/* Options for a store tracker on url; path NULL: private. */
static inline qk_options store_options(const qk_service_def *defs, size_t n, const char *url,
                                       int64_t timeout_ms, const char *path)
{
    qk_options o = QK_OPTIONS_INIT;
    o.services = defs;
    o.n_services = n;
    o.store = url;
    o.store_timeout_ms = timeout_ms;
    o.path = path;
    return o;
}

static inline qk_tracker *store_tracker(const qk_options *o)
{
    qk_tracker *t = NULL;
    const int rc = qk_tracker_new(&t, o);
    cr_assert_eq(rc, QK_OK, "qk_tracker_new: %s", qk_errmsg());
    return t;
}

/* qk_store_status with room for a few services. */
typedef struct {
    qk_store_info info;
    qk_store_service_info svc[4];
} status_buf;

static inline const qk_store_info *status_of(qk_tracker *t, status_buf *b)
{
    memset(b, 0, sizeof *b);
    b->info.version = QK_STORE_INFO_VERSION;
    b->info.services = b->svc;
    b->info.cap = 4;
    const int rc = qk_store_status(t, &b->info);
    cr_assert_eq(rc, QK_OK, "qk_store_status: %s", qk_errmsg());
    return &b->info;
}

/* A one-window service definition. */
static inline qk_service_def one_window(const char *name, qk_period p, uint64_t limit,
                                        qk_outage outage, uint64_t lease_max)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.windows[0].period = p;
    d.windows[0].limit = limit;
    d.outage = outage;
    d.lease_max = lease_max;
    return d;
}

#endif
