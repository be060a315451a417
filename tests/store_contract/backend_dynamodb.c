/* The contract's DynamoDB row: dynalite from tests/support with an empty server (qk_store_init
 * makes the table, as an operator would), and a window read with GetItem through the item
 * layout of docs/store.md (tests/store_ddb/ddb_test.h): L, G, U and h.<host id>.{g,x,u,r,t}, and
 * the retired hosts from their tomb items (pk "<service>/<host id>", found by a Scan). */
#include "backend.h"
#include "ddb_test.h"

static void start(qkt_server *s)
{
    fake_credentials();
    cr_assert_eq(qkt_server_start(s, QKT_DYNALITE, NULL), 0, "%s", s->error);
}

static void url(char *buf, size_t len, const qkt_server *s)
{
    ddb_url(buf, len, s, TABLE);
}

/* A host's counter; 0 when absent (a host that never gave back has no x). */
static uint64_t counter(json_t *h, const char *f)
{
    json_t *a = json_object_get(json_object_get(h, "M"), f);
    return a == NULL ? 0 : num_of(a);
}

static void view_in(const qkt_server *s, const char *svc, char p, const char *zone, qkc_view *out)
{
    memset(out, 0, sizeof *out);
    json_t *item = get_item(s->port, svc);
    const char *name = window_name_in(item, p, zone);
    json_t *w = json_object_get(json_object_get(item, name), "M");
    out->start_ms = (int64_t)wfield(w, "s");
    out->L = wfield(w, "L");
    out->G = wfield(w, "G");
    out->U = wfield(w, "U");
    const char *id;
    json_t *h;
    json_object_foreach(json_object_get(json_object_get(w, "h"), "M"), id, h)
    {
        cr_assert_lt(out->hosts, QKC_MAX_HOSTS, "more than %d hosts in %s", QKC_MAX_HOSTS, svc);
        qkc_host_view *v = &out->host[out->hosts++];
        snprintf(v->id, sizeof v->id, "%s", id);
        v->g = counter(h, "g");
        v->x = counter(h, "x");
        v->u = counter(h, "u");
        v->r = counter(h, "r");
        out->sum_u += v->u - v->r;
        out->sum_g += v->g - v->x;
    }
    /* The retired hosts: their tombs' windows of this name, for hosts with no entry in the
     * window (a host back from its tomb has an entry, which supersedes the tomb). */
    json_t *hosts = json_object_get(json_object_get(w, "h"), "M");
    json_t *tombs = tombs_of(s->port, svc);
    size_t i;
    json_t *tomb;
    json_array_foreach(tombs, i, tomb)
    {
        host_counts c;
        if (!tomb_window(tomb, name, &c) || json_object_get(hosts, c.id))
            continue;
        cr_assert_lt(out->retired, QKC_MAX_HOSTS, "more than %d retired hosts in %s", QKC_MAX_HOSTS,
                     svc);
        qkc_host_view *v = &out->gone[out->retired++];
        snprintf(v->id, sizeof v->id, "%s", c.id);
        v->g = c.g;
        v->x = c.x;
        v->u = c.u;
        v->r = c.r;
        out->sum_u += v->u - v->r;
        out->sum_g += v->g - v->x;
    }
    json_decref(tombs);
    json_decref(item);
}

static void view(const qkt_server *s, const char *svc, char p, qkc_view *out)
{
    view_in(s, svc, p, NULL, out);
}

const qkc_backend qkc_dynamodb = {"dynamodb", start, url, true, view, view_in};
