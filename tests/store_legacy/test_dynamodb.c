/* The mixed fleet on one dynalite table (label store_ddb): the scenarios of mixed.h over the
 * DynamoDB row. A window is read with GetItem (libcurl, jansson) through the item layout of
 * docs/store.md: the service's item (pk = service) with w_f<start>.{L,G,U} and
 * h.<host id>.{g,x,u,r,t}, where a new host writes t % 1000 == 1 and an old one t % 1000 == 0;
 * a retired host's counters are in its tomb item, pk = "<service>/<host id>", under the same
 * window attribute. */
#include "ddb_test.h"
#include "mixed.h"

static void url(char *buf, size_t len, const qkt_server *s)
{
    ddb_url(buf, len, s, TABLE);
}

static uint64_t counter(json_t *h, const char *f)
{
    json_t *a = json_object_get(json_object_get(h, "M"), f);
    return a == NULL ? 0 : num_of(a);
}

/* The item's one window attribute of period letter p, and its name; NULL when there is none. */
static json_t *window_named(json_t *item, char p, const char **name_out)
{
    json_t *found = NULL, *v;
    const char *name;
    json_object_foreach(item, name, v)
    {
        if (name[0] == 'w' && name[1] == '_' && name[2] == p) {
            cr_assert_null(found, "two windows of period %c", p);
            found = json_object_get(v, "M");
            *name_out = name;
        }
    }
    return found;
}

static void view(const qkt_server *s, const char *svc, const char *const *ids, unsigned n_ids,
                 mx_view *out)
{
    json_t *item = get_item(s->port, svc);
    cr_assert_not_null(item, "no item for %s", svc);
    const char *wname = NULL;
    json_t *w = window_named(item, 'f', &wname);
    cr_assert_not_null(w, "no forever window in %s", svc);
    out->L = wfield(w, "L");
    out->G = wfield(w, "G");
    out->U = wfield(w, "U");
    const char *id;
    json_t *h;
    json_object_foreach(json_object_get(json_object_get(w, "h"), "M"), id, h)
    {
        cr_assert_lt(out->n, MX_MAX_HOSTS);
        mx_host *x = &out->h[out->n++];
        snprintf(x->id, sizeof x->id, "%s", id);
        x->live = 1;
        x->g = counter(h, "g");
        x->x = counter(h, "x");
        x->u = counter(h, "u");
        x->r = counter(h, "r");
        x->marked = counter(h, "t") % 1000 == 1;
    }
    /* Every host the test knows of: its tomb, if it has one. */
    for (unsigned i = 0; i < n_ids; i++) {
        char pk[160];
        snprintf(pk, sizeof pk, "%s/%s", svc, ids[i]);
        json_t *tomb = get_item(s->port, pk);
        if (tomb == NULL)
            continue;
        mx_host *x = NULL;
        for (unsigned j = 0; j < out->n; j++)
            if (strcmp(out->h[j].id, ids[i]) == 0)
                x = &out->h[j];
        if (x == NULL) {
            cr_assert_lt(out->n, MX_MAX_HOSTS);
            x = &out->h[out->n++];
            snprintf(x->id, sizeof x->id, "%s", ids[i]);
        }
        x->retired = 1;
        json_t *tw = json_object_get(json_object_get(tomb, wname), "M");
        char *shown = json_dumps(tomb, JSON_COMPACT);
        cr_assert_not_null(tw, "tomb %s has no %s: %s", pk, wname, shown);
        free(shown);
        if (!x->live) { /* a host in both is reported by mx_check; keep the hot counters */
            x->g = json_object_get(tw, "g") ? num_of(json_object_get(tw, "g")) : 0;
            x->x = json_object_get(tw, "x") ? num_of(json_object_get(tw, "x")) : 0;
            x->u = json_object_get(tw, "u") ? num_of(json_object_get(tw, "u")) : 0;
            x->r = json_object_get(tw, "r") ? num_of(json_object_get(tw, "r")) : 0;
        }
        json_decref(tomb);
    }
    json_decref(item);
}

static const mixed_row row = {"dynamodb", start_dynalite, url, view, 0};

TestSuite(legacy_ddb, .fini = qkt_servers_stop_all, .timeout = 300);

Test(legacy_ddb, old_and_new_hosts_share_one_window_exactly)
{
    mx_rounds(&row);
}

Test(legacy_ddb, a_host_upgraded_and_rolled_back_continues)
{
    mx_upgrade(&row, NULL, NULL);
}

Test(legacy_ddb, a_host_rolled_back_is_never_retired)
{
    mx_upgrade(&row, "3000", "1400");
}

Test(legacy_ddb, a_host_rolled_back_past_the_bound_on_a_new_state_file_counts_once)
{
    mx_rollback_fresh(&row, "1500", "700");
}

Test(legacy_ddb, only_departed_new_hosts_are_retired)
{
    mx_retire(&row, "1500", "700");
}
