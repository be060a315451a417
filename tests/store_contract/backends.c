/* The contract's table of backends and the choice among them ($QK_STORE_BACKEND). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "quotakeeper.h"

static const qkc_backend *const backends[] = {
#ifdef QKC_HAVE_REDIS
    &qkc_redis,
#endif
#ifdef QKC_HAVE_DYNAMODB
    &qkc_dynamodb,
#endif
};

const qkc_backend *qkc_backend_get(void)
{
    const char *name = getenv("QK_STORE_BACKEND");
    cr_assert_not_null(name, "QK_STORE_BACKEND is not set (redis or dynamodb)");
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    cr_assert_fail("QK_STORE_BACKEND=%s: no such backend in this build", name);
    return NULL;
}

const qkc_backend *qkc_start(qkt_server *s, char *url, size_t len)
{
    const qkc_backend *b = qkc_backend_get();
    b->start(s);
    b->url(url, len, s);
    if (b->needs_init) {
        int created = 0;
        const int rc = qk_store_init(&created, url, 30000);
        cr_assert_eq(rc, QK_OK, "qk_store_init(%s): %s: %s", url, qk_err_name(rc), qk_errmsg());
        cr_assert_eq(created, 1, "qk_store_init found a store already made on a new server");
    }
    return b;
}

const qkc_host_view *qkc_host(const qkc_view *v, const char *id)
{
    for (unsigned h = 0; h < v->hosts; h++)
        if (strcmp(v->host[h].id, id) == 0)
            return &v->host[h];
    for (unsigned h = 0; h < v->retired; h++)
        if (strcmp(v->gone[h].id, id) == 0)
            return &v->gone[h];
    cr_assert_fail("host %s is not in the store's window (%u live, %u retired)", id, v->hosts,
                   v->retired);
    return NULL;
}

bool qkc_host_retired(const qkc_view *v, const char *id)
{
    for (unsigned h = 0; h < v->retired; h++)
        if (strcmp(v->gone[h].id, id) == 0)
            return true;
    return false;
}
