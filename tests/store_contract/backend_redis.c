/* The contract's Redis row: redis-server from tests/support, and a window's hash read with
 * hiredis through src/store/redis.c's key layout (tests/store/store_test.h): L, G, U and
 * g:/x:/u:/r:/t:<host id>. */
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

static void view(const qkt_server *s, const char *svc, char p, qkc_view *out)
{
    memset(out, 0, sizeof *out);
    char key[160];
    window_key(key, sizeof key, s->port, svc, p);
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
        } else if (strchr("gxurt", f[0]) != NULL && f[1] == ':') {
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
                break; /* t: the host's last request */
            }
        }
    }
    freeReplyObject(r);
    for (unsigned h = 0; h < out->hosts; h++) {
        out->sum_u += out->host[h].u - out->host[h].r;
        out->sum_g += out->host[h].g - out->host[h].x;
    }
}

const qkc_backend qkc_redis = {"redis", start, url, false, view};
