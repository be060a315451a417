/* The mixed fleet on one redis-server (label store): the scenarios of mixed.h over the Redis row.
 * A window is read with hiredis through the key layout of docs/store.md: the hash
 * qk:{<service>}:f:<start> (L, G, U; g:/x:/u:/r:/t:/q:<host>), the sorted set <hash>:seen
 * (host -> last sync, new hosts only) and the hash <hash>:gone (host -> "g x u r q", retired
 * hosts). */
#include "mixed.h"
#include "store_test.h"

static void start(qkt_server *s)
{
    start_redis(s, NULL);
}

static void url(char *buf, size_t len, const qkt_server *s)
{
    redis_url(buf, len, s);
}

static mx_host *host_of(mx_view *v, const char *id)
{
    for (unsigned i = 0; i < v->n; i++)
        if (strcmp(v->h[i].id, id) == 0)
            return &v->h[i];
    cr_assert_lt(v->n, MX_MAX_HOSTS, "more than %d hosts", MX_MAX_HOSTS);
    mx_host *h = &v->h[v->n++];
    snprintf(h->id, sizeof h->id, "%s", id);
    return h;
}

static int ends_with(const char *s, const char *tail)
{
    const size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

static void view(const qkt_server *s, const char *svc, const char *const *ids, unsigned n_ids,
                 mx_view *out)
{
    (void)ids;
    (void)n_ids;
    /* The window's hash: the one key of the pattern that is neither :seen nor :gone. */
    char key[200] = "";
    redisReply *r = rcmd(s->port, "KEYS qk:{%s}:f:*", svc);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    unsigned mains = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const char *k = r->element[i]->str;
        if (!ends_with(k, ":seen") && !ends_with(k, ":gone")) {
            snprintf(key, sizeof key, "%s", k);
            mains++;
        }
    }
    freeReplyObject(r);
    cr_assert_eq(mains, 1, "%u window hashes for qk:{%s}:f:*", mains, svc);

    r = rcmd(s->port, "HGETALL %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "HGETALL %s: reply type %d", key, r->type);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        const uint64_t val = strtoull(r->element[i + 1]->str, NULL, 10);
        if (strcmp(f, "L") == 0) {
            out->L = val;
        } else if (strcmp(f, "G") == 0) {
            out->G = val;
        } else if (strcmp(f, "U") == 0) {
            out->U = val;
        } else if (strchr("gxurtq", f[0]) != NULL && f[1] == ':') {
            mx_host *h = host_of(out, f + 2);
            h->live = 1;
            if (f[0] == 'g')
                h->g = val;
            else if (f[0] == 'x')
                h->x = val;
            else if (f[0] == 'u')
                h->u = val;
            else if (f[0] == 'r')
                h->r = val;
        } else {
            cr_assert_fail("%s: unknown field %s", key, f);
        }
    }
    freeReplyObject(r);

    r = rcmd(s->port, "ZRANGE %s:seen 0 -1", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "ZRANGE %s:seen: reply type %d", key, r->type);
    for (size_t i = 0; i < r->elements; i++)
        host_of(out, r->element[i]->str)->marked = 1;
    freeReplyObject(r);

    r = rcmd(s->port, "HGETALL %s:gone", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "HGETALL %s:gone: reply type %d", key, r->type);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        mx_host *h = host_of(out, r->element[i]->str);
        unsigned long long g, x, u, rf, q;
        cr_assert_eq(
            sscanf(r->element[i + 1]->str, "%llu %llu %llu %llu %llu", &g, &x, &u, &rf, &q), 5,
            "%s:gone %s: '%s' is not \"g x u r q\"", key, h->id, r->element[i + 1]->str);
        h->retired = 1;
        if (!h->live) { /* a host in both is reported by mx_check; keep the hot counters */
            h->g = g;
            h->x = x;
            h->u = u;
            h->r = rf;
        }
    }
    freeReplyObject(r);
}

static const mixed_row row = {"redis", start, url, view, 1};

TestSuite(legacy_redis, .fini = qkt_servers_stop_all, .timeout = 240);

Test(legacy_redis, old_and_new_hosts_share_one_window_exactly)
{
    mx_rounds(&row);
}

Test(legacy_redis, a_host_upgraded_and_rolled_back_continues)
{
    mx_upgrade(&row, NULL, NULL);
}

Test(legacy_redis, a_host_rolled_back_is_never_retired)
{
    mx_upgrade(&row, "3000", "1400");
}

Test(legacy_redis, a_host_rolled_back_past_the_bound_on_a_new_state_file_counts_once)
{
    mx_rollback_fresh(&row, "1500", "700");
}

Test(legacy_redis, only_departed_new_hosts_are_retired)
{
    mx_retire(&row, "1500", "700");
}
