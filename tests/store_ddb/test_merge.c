/* The store-side merge (src/store/merge.c), the rule the Redis script applies, which the
 * DynamoDB backend runs in C; and dynamodb:// URLs (src/store/dynamodb.c). White-box. */
#include "ddb_test.h"
#include "store/dynamodb.h"

static qk__store_window_req req(uint64_t want, uint64_t used, uint64_t refunded, uint64_t released)
{
    qk__store_window_req q = {QK_MINUTE, 60000, 120000, 10, want, used, refunded, released};
    return q;
}

Test(ddb_merge, grants_what_is_left_inside_the_window_only)
{
    qk__store_counts c = {0};
    qk__store_window_req q = req(4, 0, 0, 0);
    qk__store_merge_window(&c, &q, 59999, 1, 0); /* before the window: nothing */
    cr_assert_eq(c.granted, 0);
    qk__store_merge_window(&c, &q, 60000, 1, 0);
    cr_assert_eq(c.granted, 4);
    cr_assert_eq(c.fleet_granted, 4);
    c.fleet_granted = 8; /* other hosts hold 4 more */
    q.granted = 20;
    qk__store_merge_window(&c, &q, 60001, 1, 0);
    cr_assert_eq(c.granted, 6, "only L - G = 2 more");
    cr_assert_eq(c.fleet_granted, 10);
    q.granted = 30;
    qk__store_merge_window(&c, &q, 120000, 1, 0); /* at the end: nothing, even with room */
    cr_assert_eq(c.granted, 6);
}

/* A rolling window's piece: the grant leaves room for what the window's other pieces within
 * the horizon hold (others), and a piece whose others hold the limit grants nothing. Catches a
 * merge that caps a piece by its own G only: the fleet would hold L in every piece, several L in
 * one rolling window. */
Test(ddb_merge, a_piece_grants_only_what_its_other_pieces_leave)
{
    qk__store_counts c = {0};
    qk__store_window_req q = req(8, 0, 0, 0);
    q.horizon_ms = qk__store_horizon_ms(60000, 1);
    qk__store_merge_window(&c, &q, 60000, 1, 7); /* others hold 7 of the 10 */
    cr_assert_eq(c.granted, 3, "granted %llu", (unsigned long long)c.granted);
    cr_assert_eq(c.fleet_granted, 3);
    q.granted = 9;
    qk__store_merge_window(&c, &q, 60001, 1, 10); /* others hold the limit: nothing */
    cr_assert_eq(c.granted, 3);
    qk__store_merge_window(&c, &q, 60002, 1, 12); /* past it (an overdraft): nothing, no wrap */
    cr_assert_eq(c.granted, 3);
    qk__store_merge_window(&c, &q, 60003, 1, 0); /* they left the horizon: the rest */
    cr_assert_eq(c.granted, 9);
    cr_assert_eq(c.fleet_granted, 9);
}

/* The pieces' length and horizon (docs/store.md, "Rolling windows"): a tenth of the window on a
 * millisecond clock; whole seconds, at least two, on DynamoDB's. */
Test(ddb_merge, pieces_and_horizons)
{
    cr_assert_eq(qk__store_piece_ms(1000, 1), 100);
    cr_assert_eq(qk__store_piece_ms(60000, 1), 6000);
    cr_assert_eq(qk__store_piece_ms(1000, 1000), 2000);
    cr_assert_eq(qk__store_piece_ms(15000, 1000), 2000);
    cr_assert_eq(qk__store_piece_ms(25000, 1000), 3000);
    cr_assert_eq(qk__store_piece_ms(3600000, 1000), 360000);
    cr_assert_eq(qk__store_horizon_ms(1000, 1), 1000 + 1 + QK__ROLLING_SKEW_MS);
    cr_assert_eq(qk__store_horizon_ms(1000, 1000), 1000 + 1000 + QK__ROLLING_SKEW_MS);
}

Test(ddb_merge, cumulative_values_merge_by_max)
{
    qk__store_counts c = {0};
    qk__store_window_req q = req(5, 3, 1, 0);
    qk__store_merge_window(&c, &q, 70000, 1, 0);
    const qk__store_counts once = c;
    cr_assert_eq(c.fleet_used, 2);
    for (int i = 0; i < 3; i++) /* repeated, then an older (late) request: no change */
        qk__store_merge_window(&c, &q, 70000, 1, 0);
    qk__store_window_req late = req(2, 1, 0, 0);
    qk__store_merge_window(&c, &late, 70000, 1, 0);
    cr_assert_eq(memcmp(&c, &once, sizeof c), 0, "a repeated or late request changed the store");
}

Test(ddb_merge, overdraft_raises_the_grant_and_a_give_back_lowers_what_is_held)
{
    /* G, U, g_h, x_h, u_h, r_h */
    qk__store_counts c = {9, 0, 0, 0, 0, 0};
    qk__store_window_req q = req(0, 4, 0, 0); /* recorded 4 with no lease */
    qk__store_merge_window(&c, &q, 70000, 1, 0);
    cr_assert_eq(c.granted, 4);
    cr_assert_eq(c.fleet_granted, 13, "G past L: the overdraft shows");
    qk__store_counts d = {6, 2, 6, 0, 2, 0};
    qk__store_window_req rel = req(6, 2, 0, 4); /* gives back the 4 it holds unused */
    qk__store_merge_window(&d, &rel, 70000, 1, 0);
    cr_assert_eq(d.granted, 6, "a grant total never drops");
    cr_assert_eq(d.released, 4);
    cr_assert_eq(d.fleet_granted, 2);
}

/* Catches: a give-back applied after a newer grant (a duplicate, or one that was slow) taking
 * back what the host was granted since, which it may already have used. */
Test(ddb_merge, a_late_give_back_changes_nothing)
{
    qk__store_counts c = {0};
    qk__store_window_req grant = req(5, 0, 0, 0);
    qk__store_merge_window(&c, &grant, 70000, 1, 0);
    qk__store_window_req give_back = req(5, 1, 0, 4); /* used 1, gives back 4 */
    qk__store_merge_window(&c, &give_back, 70000, 1, 0);
    cr_assert_eq(c.fleet_granted, 1);
    qk__store_window_req regrant = req(9, 1, 0, 4); /* later: wants 4 more held */
    qk__store_merge_window(&c, &regrant, 70000, 1, 0);
    cr_assert_eq(c.fleet_granted, 5);
    const qk__store_counts before = c;
    qk__store_merge_window(&c, &give_back, 70000, 1, 0); /* the give-back again, late */
    cr_assert_eq(memcmp(&c, &before, sizeof c), 0, "a late give-back took back a newer grant");
}

static int parse(const char *s, qk__ddb_target *t)
{
    qk__store_url u;
    const int rc = qk__store_url_parse(&u, s);
    return rc != QK_OK ? rc : qk__ddb_target_parse(t, &u);
}

Test(ddb_merge, dynamodb_urls)
{
    qk__ddb_target t;
    cr_assert_eq(parse("dynamodb://qk_quota?region=eu-west-1", &t), QK_OK, "%s", qk_errmsg());
    cr_assert_str_eq(t.table, "qk_quota");
    cr_assert_str_eq(t.region, "eu-west-1");
    cr_assert_str_eq(t.endpoint, "https://dynamodb.eu-west-1.amazonaws.com");
    cr_assert_eq(
        parse("dynamodb://a.b-c?endpoint=http%3A%2F%2F127.0.0.1%3A8000&region=us-east-1", &t),
        QK_OK, "%s", qk_errmsg());
    cr_assert_str_eq(t.endpoint, "http://127.0.0.1:8000");
    cr_assert_eq(parse("dynamodb://tbl?region=us-east-1&endpoint=http://[::1]:8000", &t), QK_OK);
    static const char *const bad[] = {
        "dynamodb://tbl",                       /* no region */
        "dynamodb://ab?region=us-east-1",       /* name too short */
        "dynamodb://tbl?region=us-east-1&x=1",  /* unknown parameter */
        "dynamodb://tbl?region=US",             /* not a region */
        "dynamodb://tbl:8000?region=us-east-1", /* a port */
        "dynamodb://u:pw@tbl?region=us-east-1", /* credentials */
        "dynamodb://tbl/x?region=us-east-1",    /* a path */
        "dynamodb://tbl?region=us-east-1&endpoint=ftp://h",
        "dynamodb://tbl?region=us-east-1&endpoint=http://h/path",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse(bad[i], &t), QK_EINVAL, "%s was accepted", bad[i]);
        cr_assert(strstr(qk_errmsg(), "pw") == NULL, "%s", qk_errmsg());
    }
    /* Through the public API: refused at open, before any I/O. */
    const qk_service_def d = one_window("svc", QK_MINUTE, 10, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, "dynamodb://tbl", 100, NULL);
    qk_tracker *tr = NULL;
    cr_assert_eq(qk_tracker_new(&tr, &o), QK_EINVAL);
    cr_assert(strstr(qk_errmsg(), "region") != NULL, "%s", qk_errmsg());
}
