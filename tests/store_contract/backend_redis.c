/* The contract's Redis row: redis-server from tests/support, and a window's hash read with
 * hiredis through src/store/redis.c's key layout (tests/store/store_test.h): L, G, U and
 * g:/x:/u:/r:/t:/q:<host id>, and the retired hosts' records in the window's :gone hash. */
#include "backend.h"
#include "store_test.h"

static void start(qkt_server *s)
{
    start_redis(s, NULL);
}

static void url(char *buf, size_t len, const qkt_server *s)
{
    redis_url(buf, len, s);
}

static void view_in(const qkt_server *s, const char *svc, char p, const char *zone, qkc_view *out)
{
    memset(out, 0, sizeof *out);
    char key[240];
    window_key_in(key, sizeof key, s->port, svc, p, zone);
    out->start_ms = strtoll(strrchr(key, ':') + 1, NULL, 10);
    redisReply *r = rcmd(s->port, "HGETALL %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "HGETALL %s: reply type %d", key, r->type);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        const uint64_t v = strtoull(r->element[i + 1]->str, NULL, 10);
        if (strcmp(f, "L") == 0) {
            out->L = v;
        } else if (strcmp(f, "G") == 0) {
            out->G = v;
        } else if (strcmp(f, "U") == 0) {
            out->U = v;
        } else if (strchr("gxurtq", f[0]) != NULL && f[1] == ':') {
            const char *id = f + 2;
            unsigned h = 0;
            while (h < out->hosts && strcmp(out->host[h].id, id) != 0)
                h++;
            if (h == out->hosts) {
                cr_assert_lt(h, QKC_MAX_HOSTS, "more than %d hosts in %s", QKC_MAX_HOSTS, key);
                snprintf(out->host[h].id, sizeof out->host[h].id, "%s", id);
                out->hosts++;
            }
            switch (f[0]) {
            case 'g':
                out->host[h].g = v;
                break;
            case 'x':
                out->host[h].x = v;
                break;
            case 'u':
                out->host[h].u = v;
                break;
            case 'r':
                out->host[h].r = v;
                break;
            default:
                break; /* t: the host's last sync; q: its last request's number */
            }
        }
    }
    freeReplyObject(r);
    for (unsigned h = 0; h < out->hosts; h++) {
        out->sum_u += out->host[h].u - out->host[h].r;
        out->sum_g += out->host[h].g - out->host[h].x;
    }
    /* Retired hosts: "g x u r q" per host in the window's :gone hash. */
    r = rcmd(s->port, "HGETALL %s:gone", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "HGETALL %s:gone: reply type %d", key, r->type);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        cr_assert_lt(out->retired, QKC_MAX_HOSTS, "more than %d retired hosts in %s", QKC_MAX_HOSTS,
                     key);
        qkc_host_view *v = &out->gone[out->retired++];
        snprintf(v->id, sizeof v->id, "%s", r->element[i]->str);
        unsigned long long g, x, u, rf, q;
        cr_assert_eq(
            sscanf(r->element[i + 1]->str, "%llu %llu %llu %llu %llu", &g, &x, &u, &rf, &q), 5,
            "%s:gone %s: '%s' is not a host record", key, v->id, r->element[i + 1]->str);
        *v = (qkc_host_view){.g = g, .x = x, .u = u, .r = rf};
        snprintf(v->id, sizeof v->id, "%s", r->element[i]->str);
        out->sum_u += u - rf;
        out->sum_g += g - x;
    }
    freeReplyObject(r);
}

static void view(const qkt_server *s, const char *svc, char p, qkc_view *out)
{
    view_in(s, svc, p, NULL, out);
}

const qkc_backend qkc_redis = {"redis", start, url, false, view, view_in};
