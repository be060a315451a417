/* The store contract suite's backends (docs/testing.md, "store contract"): one table row per
 * store, {name, start its server, its URL, whether qk_store_init must run first, the store's own
 * view of a window}, so each fleet scenario is written once and run against every backend.
 *
 * The backend is chosen by $QK_STORE_BACKEND ("redis" or "dynamodb"; ctest sets it for
 * store_contract_redis and store_contract_dynamodb). Unset, unknown, or a backend this build
 * lacks fails the test: never a skip. */
#ifndef QKC_BACKEND_H
#define QKC_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "servers.h"

enum { QKC_MAX_HOSTS = 8 };

typedef struct {
    char id[40];
    uint64_t g, x, u, r;
} qkc_host_view;

/* One window of a service as the store holds it: the fleet's L, G, U and each host's totals
 * (g granted, x given back, u used, r refunded), read straight from the server, independent of
 * the backend's code. */
typedef struct {
    int64_t start_ms; /* the window's start, as the store names or holds it */
    uint64_t L, G, U;
    uint64_t sum_u; /* the hosts' u - r, retired hosts included */
    uint64_t sum_g; /* the hosts' g - x, retired hosts included */
    unsigned hosts; /* live hosts, in host[] */
    qkc_host_view host[QKC_MAX_HOSTS];
    /* Hosts the store retired (docs/store.md, "Retirement"): their totals are kept where only
     * they read them (Redis: the window's gone hash; DynamoDB: the host's own item), counted in
     * sum_u and sum_g, and listed here. */
    unsigned retired;
    qkc_host_view gone[QKC_MAX_HOSTS];
} qkc_view;

typedef struct {
    const char *name;
    /* Starts the server; the test fails when it cannot. */
    void (*start)(qkt_server *s);
    void (*url)(char *buf, size_t len, const qkt_server *s);
    bool needs_init; /* qk_store_init(url) before any tracker (DynamoDB: the table) */
    /* The one window of period letter p ('f' QK_FOREVER, 'd' QK_DAY) of service svc; the test
     * fails unless exactly one exists. */
    void (*view)(const qkt_server *s, const char *svc, char p, qkc_view *out);
    /* The same for the window of letter p in the IANA zone `zone` (NULL: the UTC one, as view). */
    void (*view_in)(const qkt_server *s, const char *svc, char p, const char *zone, qkc_view *out);
} qkc_backend;

extern const qkc_backend qkc_redis, qkc_dynamodb;

/* The backend $QK_STORE_BACKEND names; the test fails without one. */
const qkc_backend *qkc_backend_get(void);

/* Starts the chosen backend's server, runs qk_store_init when it needs it, writes its URL. */
const qkc_backend *qkc_start(qkt_server *s, char *url, size_t len);

/* Host id's totals in v, live or retired; the test fails when v has no such host. */
const qkc_host_view *qkc_host(const qkc_view *v, const char *id);
/* Whether the store retired host id (its totals are in v->gone). */
bool qkc_host_retired(const qkc_view *v, const char *id);

#endif
