/* Retirement on Redis, at the backend's level (issue 21; docs/store.md, "Retirement"): what the
 * script keeps per window (the hash of live hosts, :seen, :gone), and the rule that a late
 * request from a retired host changes nothing. Requests go through the Redis backend's own sync,
 * as tests/store/test_merge_diff.c sends them; the store's keys are read with hiredis and
 * compared whole (every field of all three keys, and their expiries) before and after.
 *
 * - a_late_request_from_a_retired_host_changes_nothing: a host's last word retires it; then
 *   every request it sent before, and the last word itself, arrive again: the keys are
 *   byte for byte what they were, and no grant was made. Catches a script that restores a
 *   retired host from :gone for any request (a late duplicate brings it back, and its grant
 *   strands quota), or that grants to a late request.
 * - a_silent_host_is_retired_by_another_and_resumes_exactly: past the bound (QK_TEST_RETIRE_MS,
 *   hooked build), another host's sync moves the silent host to :gone and takes back what it
 *   held unused (G drops by exactly that); its old requests then change nothing; its next new
 *   request restores it with exactly its totals. Catches a retirement that forgets the host's
 *   counters (its use would count twice) or does not give its lease back.
 * - the_live_keys_stay_small_whatever_the_hosts_seen: 300 hosts one after another, each a
 *   request and a last word: the window's hash keeps L, G, U only, :seen is empty, U is exact.
 *   Catches a last word that leaves the host's fields behind. */
#include <inttypes.h>

#include "store/merge.h"
#include "store/store.h"
#include "store_test.h"

TestSuite(store_retire_redis, .fini = qkt_servers_stop_all, .timeout = 120);

#define SERVICE "late"
enum { RETIRE_MS = 1200, LIMIT = 50 };

typedef struct {
    const qk__store_backend *be;
    qk__store_conn *conn;
    int port;
    int64_t start, end;
    char key[96];
} rig;

static void rig_open(rig *r, qkt_server *srv)
{
    char v[16];
    snprintf(v, sizeof v, "%d", RETIRE_MS);
    setenv("QK_TEST_RETIRE_MS", v, 1);
    start_redis(srv, NULL);
    r->port = srv->port;
    r->be = qk__store_backend_find("redis");
    cr_assert_not_null(r->be);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", srv->port);
    qk__store_url parsed;
    cr_assert_eq(qk__store_url_parse(&parsed, url), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(r->be->open(&r->conn, &parsed), QK_OK, "%s", qk_errmsg());
    int64_t now;
    cr_assert_eq(r->be->server_time(r->conn, &now, qk__store_now_ms() + 5000), QK_OK);
    r->start = now - now % 3600000;
    r->end = r->start + 3600000;
    snprintf(r->key, sizeof r->key, "qk:{%s}:h:%lld", SERVICE, (long long)r->start);
}

/* A request of one window: the totals as a host sends them. */
static qk__store_sync_req request(const rig *r, const char *host, uint64_t seq, unsigned final,
                                  uint64_t want, uint64_t used, uint64_t released)
{
    qk__store_sync_req q;
    memset(&q, 0, sizeof q);
    q.service = SERVICE;
    q.host_id = host;
    q.seq = seq;
    q.final = final;
    q.n_windows = 1;
    q.w[0] = (qk__store_window_req){QK_HOUR, r->start, r->end, LIMIT, want, used, 0, released};
    return q;
}

static qk__store_window_reply send_req(const rig *r, const qk__store_sync_req *q)
{
    qk__store_sync_reply reply;
    memset(&reply, 0, sizeof reply);
    const int rc = r->be->sync(r->conn, q, &reply, qk__store_now_ms() + 5000);
    cr_assert_eq(rc, QK_OK, "sync: %s", qk_errmsg());
    return reply.w[0];
}

/* Every field of the window's three keys and their expiries, as one string. */
static void snapshot(const rig *r, char *buf, size_t len)
{
    static const char *const suffix[3] = {"", ":seen", ":gone"};
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        redisReply *x = k == 1 ? rcmd(r->port, "ZRANGE %s%s 0 -1 WITHSCORES", r->key, suffix[k])
                               : rcmd(r->port, "HGETALL %s%s", r->key, suffix[k]);
        cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
        /* HGETALL's order is the hash's; sort-free comparison: fields are few and the order of
         * an unchanged hash does not change. */
        for (size_t i = 0; i < x->elements; i++)
            at +=
                (size_t)snprintf(buf + at, len - at, "%s%c", x->element[i]->str, i % 2 ? ';' : '=');
        freeReplyObject(x);
        redisReply *e = rcmd(r->port, "PEXPIRETIME %s%s", r->key, suffix[k]);
        at += (size_t)snprintf(buf + at, len - at, "|exp %lld|", e->integer);
        freeReplyObject(e);
        cr_assert_lt(at, len, "snapshot too long");
    }
}

static uint64_t gone_field(const rig *r, const char *host, int i)
{
    redisReply *x = rcmd(r->port, "HGET %s:gone %s", r->key, host);
    cr_assert_eq(x->type, REDIS_REPLY_STRING, "%s is not in :gone", host);
    unsigned long long v[5];
    cr_assert_eq(sscanf(x->str, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]), 5);
    freeReplyObject(x);
    return v[i];
}

Test(store_retire_redis, a_late_request_from_a_retired_host_changes_nothing)
{
    qkt_server srv;
    rig r;
    rig_open(&r, &srv);
    const char *h = "00000000000000000000000000000aaa";
    qk__store_sync_req sent[4];
    sent[0] = request(&r, h, 1, 0, 10, 0, 0); /* asks for 10 */
    cr_assert_eq(send_req(&r, &sent[0]).granted_host, 10);
    sent[1] = request(&r, h, 2, 0, 20, 4, 0); /* used 4, asks for 20 in all */
    cr_assert_eq(send_req(&r, &sent[1]).granted_host, 20);
    sent[2] = request(&r, h, 3, 0, 30, 6, 0);
    cr_assert_eq(send_req(&r, &sent[2]).granted_host, 30);
    sent[3] = request(&r, h, 4, 1, 30, 7, 23); /* the last word: 7 used, the other 23 back */
    const qk__store_window_reply last = send_req(&r, &sent[3]);
    cr_assert_eq(last.used, 7);
    cr_assert_eq(last.granted, 7, "G %" PRIu64 " after the last word", last.granted);
    cr_assert_eq(hget_u64(r.port, r.key,
                          "g:"
                          "00000000000000000000000000000aaa"),
                 0, "the retired host's fields stayed in the live hash");
    cr_assert_eq(gone_field(&r, h, 2), 7);

    char before[4096], after[4096];
    snapshot(&r, before, sizeof before);
    /* Every request again, in the worst order: the last word, then the oldest. A late one may
     * ask for more than the host holds now (sent[2] wants 30): it must get nothing. */
    for (int i = 3; i >= 0; i--) {
        const qk__store_window_reply a = send_req(&r, &sent[i]);
        cr_assert_eq(a.granted_host, 30, "late request %d: the host's grant reads %" PRIu64, i,
                     a.granted_host);
        cr_assert_eq(a.granted, 7, "late request %d moved G to %" PRIu64, i, a.granted);
    }
    snapshot(&r, after, sizeof after);
    cr_assert_str_eq(after, before, "a late request changed the store");
    r.be->close(r.conn);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

Test(store_retire_redis, a_silent_host_is_retired_by_another_and_resumes_exactly)
{
    qkt_server srv;
    rig r;
    rig_open(&r, &srv);
    const char *a = "0000000000000000000000000000000a", *b = "0000000000000000000000000000000b";
    const qk__store_sync_req a1 = request(&r, a, 1, 0, 12, 0, 0);
    cr_assert_eq(send_req(&r, &a1).granted_host, 12);
    const qk__store_sync_req a2 = request(&r, a, 2, 0, 12, 5, 0); /* holds 12, used 5 */
    send_req(&r, &a2);
    sleep_ms(RETIRE_MS + 300);
    const qk__store_sync_req b1 = request(&r, b, 1, 0, 3, 0, 0);
    const qk__store_window_reply rb = send_req(&r, &b1);
    /* a held 7 unused: they came back as b's sync retired a, before b's grant. */
    cr_assert_eq(rb.granted, 5 + 3, "G %" PRIu64 ": a's unused lease was not taken back",
                 rb.granted);
    cr_assert_eq(rb.active_hosts, 1, "a retired host still counts as active");
    cr_assert_eq(hget_u64(r.port, r.key, "u:0000000000000000000000000000000a"), 0,
                 "a's fields stayed in the live hash");
    cr_assert_eq(gone_field(&r, a, 0), 12);
    cr_assert_eq(gone_field(&r, a, 1), 7, "a's record does not show the give-back");
    cr_assert_eq(gone_field(&r, a, 2), 5);
    cr_assert_eq(gone_field(&r, a, 4), 2);

    char before[4096], after[4096];
    snapshot(&r, before, sizeof before);
    send_req(&r, &a2); /* late: a's requests from before its retirement */
    send_req(&r, &a1);
    snapshot(&r, after, sizeof after);
    cr_assert_str_eq(after, before, "a late request of a retired host changed the store");

    /* a wakes up: its new request has its totals (9 used, the 7 back it learns from the answer),
     * and is counted once. */
    const qk__store_sync_req a3 = request(&r, a, 3, 0, 12, 9, 0);
    const qk__store_window_reply ra = send_req(&r, &a3);
    cr_assert_eq(ra.released_host, 7, "a was not told of the give-back");
    cr_assert_eq(ra.used, 9, "U %" PRIu64 " after a resumed: counted twice or lost", ra.used);
    cr_assert_eq(ra.granted_host, 16, "a's grant %" PRIu64 ": its 9 used past what it holds",
                 ra.granted_host);
    cr_assert_eq(ra.granted, 9 + 3, "G %" PRIu64, ra.granted);
    cr_assert_eq(hget_u64(r.port, r.key, "u:0000000000000000000000000000000a"), 9);
    redisReply *x = rcmd(r.port, "HEXISTS %s:gone %s", r.key, a);
    cr_assert_eq(x->integer, 0, "a is live and still in :gone");
    freeReplyObject(x);
    r.be->close(r.conn);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

Test(store_retire_redis, the_live_keys_stay_small_whatever_the_hosts_seen)
{
    qkt_server srv;
    rig r;
    rig_open(&r, &srv);
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char h[40];
        snprintf(h, sizeof h, "%032x", 0x1000 + i);
        const qk__store_sync_req q1 = request(&r, h, 1, 0, 3, 3, 0);
        send_req(&r, &q1);
        const qk__store_sync_req q2 = request(&r, h, 2, 1, 3, 3, 0);
        send_req(&r, &q2);
    }
    redisReply *x = rcmd(r.port, "HLEN %s", r.key);
    cr_assert_eq(x->integer, 3, "the live hash has %lld fields after %d hosts left", x->integer, N);
    freeReplyObject(x);
    x = rcmd(r.port, "ZCARD %s:seen", r.key);
    cr_assert_eq(x->integer, 0);
    freeReplyObject(x);
    x = rcmd(r.port, "HLEN %s:gone", r.key);
    cr_assert_eq(x->integer, N);
    freeReplyObject(x);
    cr_assert_eq(hget_u64(r.port, r.key, "U"), 3 * N);
    cr_assert_eq(hget_u64(r.port, r.key, "G"), 3 * N);
    r.be->close(r.conn);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}
