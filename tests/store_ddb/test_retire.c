/* Retirement on DynamoDB (issue 21, docs/store.md, "Retirement"): the service item keeps only
 * live hosts. Against dynalite, with the library built with QK_TEST_HOOKS so that
 * QK_TEST_RETIRE_MS shortens the bound to 1.5 s (and QK_TEST_LEASE_TERM_MS the term to 0.7 s).
 *
 * Claims:
 * - the last word (a request with final): the host's entry leaves every window of the request,
 *   what it still held goes back (G drops), its use stays in U, its totals in its tomb;
 * - silence: a marked host (t % 1000 == 1) silent past the bound is retired by another host's
 *   sync: its entry leaves, G drops by exactly what it held unused, its tomb holds its counts;
 *   when it syncs again its entry is back with exactly its totals, nothing counted twice, and
 *   its reply shows the give-back the store made for it;
 * - a tomb is written only over an older one (v < the version the retirement read), its windows
 *   past retention are dropped when it is rewritten, and it carries ttl;
 * - an entry written by an older library (t % 1000 == 0) is never retired;
 * - the item stays small: 200 short-lived private hosts leave a handful of entries and U exact;
 * - the tomb's JSON, encoded and decoded, without a server. */
#include <inttypes.h>

#include "calendar.h"
#include "ddb_test.h"
#include "store/dynamodb.h"
#include "store/merge.h"

#define RETIRE_MS "1500"
/* Longer than the bound plus the Date header's second, so the store's clock has passed it. */
#define PAST_THE_BOUND_MS 2700
#define LIMIT             1000

static void short_bounds(void)
{
    setenv("QK_TEST_RETIRE_MS", RETIRE_MS, 1);
    setenv("QK_TEST_LEASE_TERM_MS", "700", 1);
    cr_assert_eq(qk__store_retire_ms(), 1500, "not a QK_TEST_HOOKS build of the library");
}

TestSuite(ddb_retire, .init = short_bounds, .fini = qkt_servers_stop_all, .timeout = 240);

/* ---- the backend, called directly (as tests/store/test_merge_diff.c does) ---- */

typedef struct {
    const qk__store_backend *be;
    qk__store_conn *c;
    int64_t start_ms, end_ms; /* this month, by the host's clock */
    char name[32];            /* its attribute name */
} direct;

static void direct_open(direct *d, const qkt_server *s)
{
    char url[128];
    ddb_url(url, sizeof url, s, TABLE);
    qk__store_url u;
    cr_assert_eq(qk__store_url_parse(&u, url), QK_OK, "%s", qk_errmsg());
    d->be = qk__store_backend_find("dynamodb");
    cr_assert_not_null(d->be);
    cr_assert_eq(d->be->open(&d->c, &u), QK_OK, "%s", qk_errmsg());
    d->start_ms = qk__period_start(QK_MONTH, qk__system_now_ms());
    d->end_ms = qk__period_end(QK_MONTH, d->start_ms);
    qk__ddb_window_name(d->name, sizeof d->name, QK_MONTH, d->start_ms);
}

/* One sync of host's month window: the totals it wants granted, used, gave back. */
static qk__store_window_reply direct_sync(direct *d, const char *svc, const char *host, uint64_t g,
                                          uint64_t u, uint64_t x, unsigned final)
{
    qk__store_sync_req req;
    memset(&req, 0, sizeof req);
    req.service = svc;
    req.host_id = host;
    req.final = final;
    req.n_windows = 1;
    req.w[0] = (qk__store_window_req){QK_MONTH, d->start_ms, d->end_ms, LIMIT, g, u, 0, x};
    qk__store_sync_reply reply;
    memset(&reply, 0, sizeof reply);
    const int rc = d->be->sync(d->c, &req, &reply, qk__store_now_ms() + CALM_TIMEOUT_MS);
    cr_assert_eq(rc, QK_OK, "sync of %s: %s", host, qk_errmsg());
    return reply.w[0];
}

static const char A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                  B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static json_t *tomb_item(int port, const char *svc, const char *host)
{
    char pk[128];
    snprintf(pk, sizeof pk, "%s/%s", svc, host);
    return get_item(port, pk);
}

static int has_host(int port, const char *svc, char p, const char *host)
{
    json_t *item = get_item(port, svc);
    json_t *w = window_of(item, p);
    const int has = json_object_get(json_object_get(json_object_get(w, "h"), "M"), host) != NULL;
    json_decref(item);
    return has;
}

static uint64_t host_field(int port, const char *svc, char p, const char *host, const char *f)
{
    json_t *item = get_item(port, svc);
    const uint64_t v = hfield(window_of(item, p), host, f);
    json_decref(item);
    return v;
}

/* Catches: a final request merged and left in the item (the item then grows with every private
 * tracker ever freed); a last word whose held calls stay counted in G; a host gone from the
 * store's accounts (no tomb). */
Test(ddb_retire, the_last_word_leaves_the_item_and_its_use_stays)
{
    qkt_server srv;
    start_dynalite(&srv);
    direct d;
    direct_open(&d, &srv);
    cr_assert_eq(direct_sync(&d, "lw", A, 10, 0, 0, 0).granted_host, 10);
    direct_sync(&d, "lw", B, 5, 1, 0, 0);
    /* A's last word still holding 7 of its 10 (a request the host side would not send, but the
     * store must not strand them): they go back. */
    const qk__store_window_reply r = direct_sync(&d, "lw", A, 10, 3, 0, 1);
    cr_assert_eq(r.released_host, 7, "the reply shows the give-back: %" PRIu64, r.released_host);
    cr_assert_eq(r.granted, 3 + 5, "G %" PRIu64 ": A's use and B's lease", r.granted);
    cr_assert_eq(r.used, 4);
    cr_assert(!has_host(srv.port, "lw", 'M', A), "A's entry stayed in the item");
    cr_assert(has_host(srv.port, "lw", 'M', B), "B's entry went too");
    fleet_view f = fleet_of(srv.port, "lw", 'M');
    cr_assert_eq(f.U, 4, "U %" PRIu64 ": A's use must stay", f.U);
    cr_assert_eq(f.G, 8);
    cr_assert_eq(f.hosts, 1);
    /* Its totals are kept in its tomb (the store still accounts for every host). */
    json_t *tomb = tomb_item(srv.port, "lw", A);
    host_counts c;
    cr_assert(tomb != NULL && tomb_window(tomb, d.name, &c), "A's last word left no tomb");
    cr_assert(c.g == 10 && c.x == 7 && c.u == 3 && c.r == 0,
              "A's tomb g %" PRIu64 " x %" PRIu64 " u %" PRIu64, c.g, c.x, c.u);
    json_decref(tomb);
    cr_assert(f.sum_u == f.U && f.sum_g == f.G && f.retired == 1,
              "sum_u %" PRIu64 " sum_g %" PRIu64, f.sum_u, f.sum_g);
    /* B's last word after giving everything back: nothing is left of either host. */
    direct_sync(&d, "lw", B, 5, 1, 4, 1);
    f = fleet_of(srv.port, "lw", 'M');
    cr_assert_eq(f.hosts, 0);
    cr_assert_eq(f.U, 4);
    cr_assert_eq(f.G, 4);
    cr_assert(f.sum_u == 4 && f.sum_g == 4 && f.retired == 2);
    d.be->close(d.c);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* Catches: a host silent past the bound kept in the item (no mark, or no retirement); a
 * retirement whose host's lease stays counted in G; a retired host that comes back started
 * from zeros (its use counted twice), or whose reply hides the give-back. */
Test(ddb_retire, a_silent_host_is_retired_and_resumes_exactly)
{
    qkt_server srv;
    start_dynalite(&srv);
    direct d;
    direct_open(&d, &srv);
    cr_assert_eq(direct_sync(&d, "quiet", A, 10, 1, 0, 0).granted_host, 10);
    cr_assert_eq(host_field(srv.port, "quiet", 'M', A, "t") % 1000, 1, "A's entry is not marked");
    sleep_ms(PAST_THE_BOUND_MS);
    json_t *before = get_item(srv.port, "quiet");
    const uint64_t v_read = num_of(json_object_get(before, "v"));
    json_decref(before);
    const qk__store_window_reply rb = direct_sync(&d, "quiet", B, 5, 2, 0, 0);
    cr_assert(!has_host(srv.port, "quiet", 'M', A), "A was not retired");
    cr_assert_eq(rb.granted, 1 + 5, "G %" PRIu64 ": A's 9 unused must go back", rb.granted);
    cr_assert_eq(rb.used, 3);
    json_t *tomb = tomb_item(srv.port, "quiet", A);
    cr_assert_not_null(tomb, "no tomb for A");
    host_counts c;
    cr_assert(tomb_window(tomb, d.name, &c), "the tomb lacks %s", d.name);
    cr_assert(c.g == 10 && c.x == 9 && c.u == 1 && c.r == 0,
              "A's tomb g %" PRIu64 " x %" PRIu64 " u %" PRIu64 " r %" PRIu64, c.g, c.x, c.u, c.r);
    cr_assert_eq(num_of(json_object_get(tomb, "v")), v_read,
                 "the tomb's v is not the version read");
    /* This month's retention is its length: kept until a month after its end. */
    const int64_t expiry = d.end_ms + (d.end_ms - d.start_ms);
    cr_assert_eq((int64_t)num_of(json_object_get(tomb, "ttl")), expiry / 1000 + 1);
    json_decref(tomb);
    fleet_view f = fleet_of(srv.port, "quiet", 'M');
    cr_assert(f.sum_u == f.U && f.sum_g == f.G && f.retired == 1, "the tomb covers A's part");

    /* A comes back with the request it last sent: its entry resumes from the tomb, nothing
     * moves, and the reply shows what the store took back. */
    const qk__store_window_reply ra = direct_sync(&d, "quiet", A, 10, 1, 0, 0);
    cr_assert_eq(ra.released_host, 9, "A's reply hides the give-back: x %" PRIu64,
                 ra.released_host);
    cr_assert_eq(ra.granted_host, 10);
    cr_assert_eq(ra.used, 3, "U %" PRIu64 ": A's use counted twice", ra.used);
    cr_assert_eq(ra.granted, 6, "G %" PRIu64 ": A's lease came back from nowhere", ra.granted);
    cr_assert_eq(host_field(srv.port, "quiet", 'M', A, "x"), 9);
    /* It had used 3 more from what it believed it held (the lease term stops that on a real
     * host): counted, and the grant raised to cover it, as an overdraft would. */
    const qk__store_window_reply ra2 = direct_sync(&d, "quiet", A, 10, 4, 0, 0);
    cr_assert_eq(ra2.used, 6, "U %" PRIu64 ", both used 6", ra2.used);
    cr_assert_eq(ra2.granted, 4 + 5);
    f = fleet_of(srv.port, "quiet", 'M');
    cr_assert(f.sum_u == 6 && f.sum_g == f.G && f.hosts == 2 && f.retired == 0,
              "sum_u %" PRIu64 " sum_g %" PRIu64 " G %" PRIu64 " hosts %u retired %u", f.sum_u,
              f.sum_g, f.G, f.hosts, f.retired);
    d.be->close(d.c);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* A tomb item written by hand: pk svc/host, v, and one month window. */
static void put_tomb(int port, const char *svc, const char *host, uint64_t v, const char *window)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"TableName\":\"" TABLE
             "\",\"Item\":{\"pk\":{\"S\":\"%s/%s\"},\"v\":{\"N\":\"%" PRIu64
             "\"},\"%s\":{\"M\":{\"g\":{\"N\":\"7\"},\"x\":{\"N\":\"7\"},\"u\":{\"N\":\"0\"},"
             "\"r\":{\"N\":\"0\"}}}}}",
             svc, host, v, window);
    json_decref(ddb(port, "PutItem", body));
}

/* Catches: a retirement computed from an older version writing over a newer tomb (a host that
 * resumed from it would then count twice), or retiring the host though its tomb was not
 * written; tomb windows past their retention kept forever. */
Test(ddb_retire, a_tomb_is_written_only_over_an_older_one)
{
    qkt_server srv;
    start_dynalite(&srv);
    direct d;
    direct_open(&d, &srv);
    /* A's tomb is newer than anything this item will be read at: A must stay. */
    put_tomb(srv.port, "t", A, 1000000, "w_m60000");
    /* B's tomb holds a minute window of 1970, long past its retention. */
    put_tomb(srv.port, "t", B, 0, "w_m60000");
    direct_sync(&d, "t", A, 10, 1, 0, 0);
    direct_sync(&d, "t", B, 10, 1, 0, 0);
    sleep_ms(PAST_THE_BOUND_MS);
    const char C[] = "cccccccccccccccccccccccccccccccc";
    const qk__store_window_reply rc = direct_sync(&d, "t", C, 0, 1, 0, 0);
    cr_assert(has_host(srv.port, "t", 'M', A), "A was retired over a newer tomb");
    cr_assert(!has_host(srv.port, "t", 'M', B), "B was not retired");
    cr_assert_eq(rc.granted, 10 + 1 + 1, "G %" PRIu64, rc.granted);
    json_t *ta = tomb_item(srv.port, "t", A);
    cr_assert_eq(num_of(json_object_get(ta, "v")), 1000000, "A's newer tomb was overwritten");
    cr_assert_null(json_object_get(ta, d.name), "A's newer tomb was written to");
    json_decref(ta);
    json_t *tb = tomb_item(srv.port, "t", B);
    host_counts c;
    cr_assert(tomb_window(tb, d.name, &c) && c.g == 10 && c.x == 9 && c.u == 1);
    cr_assert_null(json_object_get(tb, "w_m60000"), "a window past its retention stayed");
    cr_assert_not_null(json_object_get(tb, "ttl"), "no ttl");
    json_decref(tb);
    d.be->close(d.c);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* Catches: an entry written by an older library retired (that host never looks for a tomb and
 * would count its use again at its next sync). */
Test(ddb_retire, an_old_library_entry_is_never_retired)
{
    qkt_server srv;
    start_dynalite(&srv);
    direct d;
    direct_open(&d, &srv);
    direct_sync(&d, "mixed", B, 5, 1, 0, 0);
    /* Two more entries by hand, in the item's own shape, both silent since 2001: an older
     * library's (t whole seconds) and this library's (t + 1). Each holds 3 unused. */
    json_t *item = get_item(srv.port, "mixed");
    json_t *w = json_object_get(json_object_get(item, d.name), "M");
    json_t *h = json_object_get(json_object_get(w, "h"), "M");
    static const char OLD[] = "0000000000000000000000000000000d",
                      NEW[] = "00000000000000000000000000000001";
    json_object_set_new(h, OLD,
                        json_pack("{s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}", "M", "g",
                                  "N", "4", "x", "N", "0", "u", "N", "1", "r", "N", "0", "t", "N",
                                  "1000000000000"));
    json_object_set_new(h, NEW,
                        json_pack("{s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}", "M", "g",
                                  "N", "4", "x", "N", "0", "u", "N", "1", "r", "N", "0", "t", "N",
                                  "1000000000001"));
    json_object_set_new(w, "G", json_pack("{s:s}", "N", "13"));
    json_object_set_new(w, "U", json_pack("{s:s}", "N", "3"));
    json_t *put = json_pack("{s:s, s:O}", "TableName", TABLE, "Item", item);
    char *body = json_dumps(put, JSON_COMPACT);
    json_decref(ddb(srv.port, "PutItem", body));
    free(body);
    json_decref(put);
    json_decref(item);

    const qk__store_window_reply r = direct_sync(&d, "mixed", B, 5, 2, 0, 0);
    cr_assert(has_host(srv.port, "mixed", 'M', OLD), "the old library's entry was retired");
    cr_assert(!has_host(srv.port, "mixed", 'M', NEW), "the marked entry was not retired");
    cr_assert_eq(host_field(srv.port, "mixed", 'M', OLD, "t"), 1000000000000,
                 "the old entry's t was changed");
    cr_assert_eq(host_field(srv.port, "mixed", 'M', OLD, "g"), 4);
    cr_assert_eq(host_field(srv.port, "mixed", 'M', OLD, "x"), 0,
                 "the old entry's lease was taken");
    cr_assert_eq(r.granted, 13 - 3, "G %" PRIu64 ": only the marked host's 3 go back", r.granted);
    cr_assert_eq(r.used, 4);
    json_t *tomb = tomb_item(srv.port, "mixed", OLD);
    cr_assert_null(tomb, "a tomb for the old library's host");
    d.be->close(d.c);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* ---- through trackers ---- */

static qk_tracker *host(const char *url, const qk_service_def *d)
{
    const qk_options o = store_options(d, 1, url, CALM_TIMEOUT_MS, NULL);
    return store_tracker(&o);
}

static void host_id(qk_tracker *t, char *id)
{
    status_buf sb;
    snprintf(id, 40, "%s", status_of(t, &sb)->host_id);
}

/* Trackers A and B on one forever window: A consumes 1 and holds the rest of its lease, stays
 * silent past the bound, and B's first consume retires it. Checks the retirement: A's entry gone,
 * G lower by exactly what A held unused, A's tomb holding its counts. */
typedef struct {
    qkt_server srv;
    qk_tracker *a, *b;
    char ida[40], idb[40];
    uint64_t ga; /* A's grant total */
} retired_tracker;

static void retire_a_tracker(retired_tracker *x)
{
    start_dynalite(&x->srv);
    const int port = x->srv.port;
    char url[128];
    ddb_url(url, sizeof url, &x->srv, TABLE);
    static qk_service_def d;
    d = one_window("trk", QK_FOREVER, LIMIT, QK_OUTAGE_SAFE, 0);
    x->a = host(url, &d);
    host_id(x->a, x->ida);
    cr_assert_eq(qk_try_consume(x->a, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    /* Until the store has A's use (its thread syncs it within a second). */
    for (int i = 0; i < 100 && host_field(port, "trk", 'f', x->ida, "u") < 1; i++)
        sleep_ms(50);
    const uint64_t ga = host_field(port, "trk", 'f', x->ida, "g");
    const uint64_t xa = host_field(port, "trk", 'f', x->ida, "x");
    const uint64_t ta = host_field(port, "trk", 'f', x->ida, "t");
    cr_assert_eq(host_field(port, "trk", 'f', x->ida, "u"), 1, "A's use never reached the store");
    cr_assert_eq(ta % 1000, 1, "A's entry is not marked");
    cr_assert_gt(ga - xa, 1, "A holds no lease (g %" PRIu64 " x %" PRIu64 ")", ga, xa);
    x->ga = ga;
    const uint64_t g0 = fleet_of(port, "trk", 'f').G;
    sleep_ms(PAST_THE_BOUND_MS);
    cr_assert_eq(host_field(port, "trk", 'f', x->ida, "t"), ta, "A synced meanwhile");

    x->b = host(url, &d);
    host_id(x->b, x->idb);
    cr_assert_eq(qk_try_consume(x->b, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert(!has_host(port, "trk", 'f', x->ida), "A was not retired");
    const uint64_t held_a = ga - xa - 1;
    json_t *item = get_item(port, "trk"); /* one read: B's thread may sync meanwhile */
    json_t *w = window_of(item, 'f');
    const uint64_t gb = hfield(w, x->idb, "g") - hfield(w, x->idb, "x");
    cr_assert_eq(wfield(w, "G"), g0 - held_a + gb,
                 "G %" PRIu64 ": was %" PRIu64 ", A held %" PRIu64 " unused, B holds %" PRIu64,
                 wfield(w, "G"), g0, held_a, gb);
    json_t *tomb = tomb_item(port, "trk", x->ida);
    host_counts c;
    cr_assert(tomb != NULL && tomb_window(tomb, window_name_of(item, 'f'), &c), "no tomb for A");
    cr_assert(c.g == ga && c.x == ga - 1 && c.u == 1 && c.r == 0,
              "A's tomb g %" PRIu64 " x %" PRIu64 " u %" PRIu64, c.g, c.x, c.u);
    cr_assert_null(json_object_get(tomb, "ttl"), "a forever window's tomb must never expire");
    json_decref(tomb);
    json_decref(item);
}

/* After A's comeback (u = 2 in all) and B's give-back: U counts both hosts once, the sums cover
 * them, nothing is held. */
static void check_both_counted(retired_tracker *x)
{
    const int port = x->srv.port;
    cr_assert(has_host(port, "trk", 'f', x->ida), "A's entry is not back");
    cr_assert_eq(host_field(port, "trk", 'f', x->ida, "u"), 2, "A's totals were not resumed");
    cr_assert_geq(host_field(port, "trk", 'f', x->ida, "x"), x->ga - 1,
                  "A's entry lost the store's give-back");
    cr_assert_eq(qk_store_sync(x->b), QK_OK, "%s", qk_errmsg());
    fleet_view f = fleet_of(port, "trk", 'f');
    cr_assert_eq(f.U, 3, "U %" PRIu64 ": both used 3, nothing counted twice", f.U);
    cr_assert(f.sum_u == f.U && f.sum_g == f.G && f.hosts == 2 && f.retired == 0,
              "sum_u %" PRIu64 " sum_g %" PRIu64 " G %" PRIu64, f.sum_u, f.sum_g, f.G);
    cr_assert_eq(f.G, f.U, "leases given back: G %" PRIu64, f.G);
    status_buf sb;
    cr_assert_eq(status_of(x->a, &sb)->services[0].windows[0].held, 0, "A believes it holds more");
    qk_tracker_free(x->a);
    qk_tracker_free(x->b);
    cr_assert_eq(qkt_server_stop(&x->srv), 0, "%s", x->srv.error);
}

/* Catches the same as a_silent_host_is_retired_and_resumes_exactly, with hosts as trackers: a
 * tracker's own entry unmarked, a lease not taken back, a returning tracker counted twice. A
 * comes back with a sync, which resumes it from its tomb exactly (and gives back what it held),
 * then a consume and a sync. */
Test(ddb_retire, a_silent_tracker_is_retired_and_resumes_exactly)
{
    retired_tracker x;
    retire_a_tracker(&x);
    cr_assert_eq(qk_store_sync(x.a), QK_OK, "%s", qk_errmsg());
    const int port = x.srv.port;
    cr_assert(host_field(port, "trk", 'f', x.ida, "g") == x.ga &&
                  host_field(port, "trk", 'f', x.ida, "x") == x.ga - 1 &&
                  host_field(port, "trk", 'f', x.ida, "u") == 1,
              "A's entry is not back with exactly its totals");
    const int rc = qk_try_consume(x.a, 0, 1, 0, NULL);
    cr_assert_eq(rc, QK_OK, "%s: %s", qk_err_name(rc), qk_errmsg());
    cr_assert_eq(qk_store_sync(x.a), QK_OK, "%s", qk_errmsg());
    check_both_counted(&x);
}

/* A thawed tracker's first consume (a Lambda environment thawed after the bound): its term ran
 * out, so it syncs first, resumes from its tomb and adopts the give-back the store made, and must
 * then be granted from what is left (990 of 1000): QK_ELIMIT after a sync means the store had
 * nothing left to grant. */
Test(ddb_retire, a_thawed_tracker_is_granted_at_its_first_consume)
{
    retired_tracker x;
    retire_a_tracker(&x);
    const int rc = qk_try_consume(x.a, 0, 1, 0, NULL);
    cr_assert_eq(rc, QK_OK, "%s: %s", qk_err_name(rc), qk_errmsg());
    cr_assert_eq(qk_store_sync(x.a), QK_OK, "%s", qk_errmsg());
    check_both_counted(&x);
}

/* Catches the item growing with every host that ever synced: short-lived private hosts one after
 * another (Lambda environments), each consuming 3 and freed. Their last words remove them, and
 * whatever is left past the bound is retired. */
Test(ddb_retire, the_item_stays_small_over_200_hosts)
{
    qkt_server srv;
    start_dynalite(&srv);
    char url[128];
    ddb_url(url, sizeof url, &srv, TABLE);
    const qk_service_def d = one_window("churn", QK_FOREVER, 100000, QK_OUTAGE_SAFE, 0);
    for (int i = 0; i < 200; i++) {
        qk_tracker *t = host(url, &d);
        cr_assert_eq(qk_try_consume(t, 0, 3, 0, NULL), QK_OK, "host %d: %s", i, qk_errmsg());
        cr_assert_eq(qk_store_sync(t), QK_OK, "host %d: %s", i, qk_errmsg());
        qk_tracker_free(t);
    }
    const fleet_view f = fleet_of(srv.port, "churn", 'f');
    cr_log_info("churn: %u entries and %u tombs left after 200 hosts", f.hosts, f.retired);
    cr_assert_leq(f.hosts, 5, "%u host entries left in the item", f.hosts);
    cr_assert_eq(f.hosts + f.retired, 200, "%u live and %u retired hosts", f.hosts, f.retired);
    cr_assert_eq(f.sum_u, 600, "the hosts' totals sum to %" PRIu64, f.sum_u);
    cr_assert_eq(f.U, 600, "U %" PRIu64, f.U);
    cr_assert_eq(f.G, 600, "G %" PRIu64 ": a lease was stranded", f.G);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

/* ---- the tomb's JSON, without a server ---- */

Test(ddb_tomb_json, an_update_sets_the_windows_and_v_over_older_tombs_only)
{
    const qk__ddb_tomb_window w[2] = {{"w_M1796083200000", 10, 9, 1, 0},
                                      {"w_f-9223372036854775808", 4, 3, 1, 0}};
    const char *old[1] = {"w_m60000"};
    char *s = qk__ddb_json_put_tomb("qk_quota", "svc", A, 41, w, 2, 0, old, 1, 0);
    cr_assert_not_null(s);
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    const char *pk, *expr, *cond, *ret;
    json_t *names, *values;
    cr_assert_eq(json_unpack(j, "{s:{s:{s:s}}, s:s, s:s, s:o, s:o, s:s}", "Key", "pk", "S", &pk,
                             "UpdateExpression", &expr, "ConditionExpression", &cond,
                             "ExpressionAttributeNames", &names, "ExpressionAttributeValues",
                             &values, "ReturnValues", &ret),
                 0);
    cr_assert_str_eq(pk, "svc/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    cr_assert_str_eq(expr, "SET #v = :v, #w0 = :w0, #w1 = :w1 REMOVE #o0, #t");
    cr_assert_str_eq(cond, "attribute_not_exists(#v) OR #v < :v");
    cr_assert_str_eq(ret, "ALL_NEW");
    cr_assert_str_eq(json_string_value(json_object_get(names, "#w1")), "w_f-9223372036854775808");
    cr_assert_str_eq(json_string_value(json_object_get(names, "#o0")), "w_m60000");
    cr_assert_str_eq(json_string_value(json_object_get(names, "#t")), "ttl");
    cr_assert_eq(num_of(json_object_get(values, ":v")), 41);
    json_t *m = json_object_get(json_object_get(values, ":w0"), "M");
    cr_assert_eq(json_object_size(m), 4, "a tomb window holds g, x, u, r only");
    cr_assert(num_of(json_object_get(m, "g")) == 10 && num_of(json_object_get(m, "x")) == 9 &&
              num_of(json_object_get(m, "u")) == 1 && num_of(json_object_get(m, "r")) == 0);
    json_decref(j);

    /* The tidy-up: the same version exactly, a ttl, no window written. */
    s = qk__ddb_json_put_tomb("qk_quota", "svc", A, 41, NULL, 0, 1800000000, NULL, 0, 1);
    j = json_loads(s, 0, NULL);
    free(s);
    cr_assert_eq(json_unpack(j, "{s:s, s:s, s:o}", "UpdateExpression", &expr, "ConditionExpression",
                             &cond, "ExpressionAttributeValues", &values),
                 0);
    cr_assert_str_eq(expr, "SET #v = :v, #t = :t");
    cr_assert_str_eq(cond, "#v = :v");
    cr_assert_eq(num_of(json_object_get(values, ":t")), 1800000000);
    json_decref(j);
}

static int decode(const char *body, qk__ddb_tomb *t)
{
    return qk__ddb_json_tomb(body, strlen(body), "Item", "qk_quota", "svc", "h1", t);
}

Test(ddb_tomb_json, a_tomb_decodes_and_anything_else_is_refused_by_name)
{
    qk__ddb_tomb t;
    cr_assert_eq(decode("{}", &t), QK_OK);
    cr_assert_eq(t.exists, 0, "no Item: no tomb");
    cr_assert_eq(decode("{\"Item\":{\"pk\":{\"S\":\"svc/h1\"},\"v\":{\"N\":\"7\"},\"ttl\":{\"N\":"
                        "\"1800000000\"},\"w_d0\":{\"M\":{\"g\":{\"N\":\"5\"},\"x\":{\"N\":\"2\"},"
                        "\"u\":{\"N\":\"3\"},\"r\":{\"N\":\"1\"}}}}}",
                        &t),
                 QK_OK, "%s", qk_errmsg());
    cr_assert(t.exists && t.version == 7 && t.ttl_s == 1800000000 && t.n_windows == 1);
    const qk__ddb_tomb_window *w = qk__ddb_tomb_find(&t, "w_d0");
    cr_assert(w != NULL && w->granted == 5 && w->released == 2 && w->used == 3 && w->refunded == 1);
    cr_assert_null(qk__ddb_tomb_find(&t, "w_d86400000"));
    qk__ddb_tomb_free(&t);
    static const char *const bad[] = {
        "{\"Item\":{\"pk\":{\"S\":\"svc/other\"},\"v\":{\"N\":\"7\"}}}",
        "{\"Item\":{\"pk\":{\"S\":\"svc/h1\"}}}",
        "{\"Item\":{\"pk\":{\"S\":\"svc/h1\"},\"v\":{\"N\":\"7\"},\"ttl\":{\"S\":\"soon\"}}}",
        "{\"Item\":{\"pk\":{\"S\":\"svc/h1\"},\"v\":{\"N\":\"7\"},\"note\":{\"S\":\"mine\"}}}",
        "{\"Item\":{\"pk\":{\"S\":\"svc/h1\"},\"v\":{\"N\":\"7\"},\"w_d0\":{\"M\":{\"g\":{\"N\":"
        "\"5\"},\"x\":{\"N\":\"2\"},\"u\":{\"N\":\"3\"}}}}}",
        "{\"Item\":{\"pk\":{\"S\":\"svc/h1\"},\"v\":{\"N\":\"7\"},\"w_d0\":{\"M\":{\"g\":{\"N\":"
        "\"5\"},\"x\":{\"N\":\"2\"},\"u\":{\"N\":\"3\"},\"r\":{\"N\":\"1\"},\"t\":{\"N\":\"1\"}}}}"
        "}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(decode(bad[i], &t), QK_EIO, "tomb %zu was taken", i);
        cr_assert(strstr(qk_errmsg(), "pk='svc/h1' is not quotakeeper's tomb") != NULL, "%s",
                  qk_errmsg());
        cr_assert_eq(t.n_windows, 0);
    }
    cr_assert_eq(decode("{\"Item\": ", &t), QK_EIO);
}

Test(ddb_tomb_json, a_window_name_says_until_when_it_is_kept)
{
    /* A minute from 60 s: a day's retention. A month (January 2026): its own length. */
    cr_assert_eq(qk__ddb_window_expiry_ms("w_m60000"), 120000 + 86400000);
    const int64_t jan = INT64_C(1767225600000), feb = INT64_C(1769904000000);
    char name[32];
    qk__ddb_window_name(name, sizeof name, QK_MONTH, jan);
    cr_assert_eq(qk__ddb_window_expiry_ms(name), feb + (feb - jan));
    qk__ddb_window_name(name, sizeof name, QK_FOREVER, INT64_MIN);
    cr_assert_eq(qk__ddb_window_expiry_ms(name), QK_NEVER);
    cr_assert_eq(qk__ddb_window_expiry_ms("w_x100"), -1);
    cr_assert_eq(qk__ddb_window_expiry_ms("w_m"), -1);
    cr_assert_eq(qk__ddb_window_expiry_ms("w_m12z"), -1);
    cr_assert_eq(qk__ddb_window_expiry_ms("pk"), -1);
}
