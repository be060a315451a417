/* Bad replies (issue 10): a table with another key schema, an item quotakeeper did not write
 * (dynalite); a 400 with an unknown error type and a body cut short (a loopback listener, since
 * dynalite never sends them). Each is a specific error with a clear message, and harms nothing
 * else: the foreign item is left as it was, and other services keep working. */
#include "ddb_test.h"
#include "fakehttp.h"

TestSuite(ddb_replies, .fini = qkt_servers_stop_all, .timeout = 120);

Test(ddb_replies, wrong_key_schema_and_foreign_items)
{
    qkt_server srv;
    start_dynalite(&srv);
    create_table_keyed(srv.port, "qk_wrong_key", "id");
    char url[128], good[128];
    ddb_url(url, sizeof url, &srv, "qk_wrong_key");
    ddb_url(good, sizeof good, &srv, TABLE);
    const qk_service_def d = one_window("svc", QK_FOREVER, 10, QK_OUTAGE_SAFE, 0);
    qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(t), QK_EINVAL);
    cr_assert(strstr(qk_errmsg(), "'qk_wrong_key' does not have quotakeeper's key") != NULL, "%s",
              qk_errmsg());
    qk_tracker_free(t);
    json_t *scan = ddb(srv.port, "Scan", "{\"TableName\":\"qk_wrong_key\"}");
    cr_assert_eq(json_integer_value(json_object_get(scan, "Count")), 0, "it wrote to the table");
    json_decref(scan);

    /* Items of a foreign shape under services' keys: refused by name, left untouched. */
    static const char *const items[] = {
        "{\"pk\":{\"S\":\"alien\"},\"owner\":{\"S\":\"someone else\"}}",
        "{\"pk\":{\"S\":\"alien\"},\"v\":{\"N\":\"3\"},\"w_f0\":{\"S\":\"not a window\"}}",
        "{\"pk\":{\"S\":\"alien\"},\"v\":{\"N\":\"3\"},\"w_f0\":{\"M\":{\"s\":{\"N\":\"0\"}}}}",
    };
    const qk_service_def two[2] = {one_window("alien", QK_FOREVER, 10, QK_OUTAGE_SAFE, 0),
                                   one_window("native", QK_FOREVER, 10, QK_OUTAGE_SAFE, 0)};
    o = store_options(two, 2, good, CALM_TIMEOUT_MS, NULL);
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"TableName\":\"" TABLE "\",\"Item\":%s}", items[i]);
        json_decref(ddb(srv.port, "PutItem", body));
        json_t *before = get_item(srv.port, "alien");
        t = store_tracker(&o);
        cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
        cr_assert_eq(qk_record(t, 1, 1, NULL), QK_OK);
        cr_assert_eq(qk_store_sync(t), QK_EIO, "item %zu", i);
        cr_assert(strstr(qk_errmsg(), "pk='alien' is not quotakeeper's") != NULL, "%s",
                  qk_errmsg());
        json_t *after = get_item(srv.port, "alien");
        cr_assert(json_equal(before, after), "the foreign item %zu was changed", i);
        json_decref(before);
        json_decref(after);
        qk_tracker_free(t);
    }
    /* The other service of the same trackers went through (each tracker synced it at free). */
    cr_assert_eq(fleet_of(srv.port, "native", 'f').U, 3);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

typedef enum { UNKNOWN_TYPE, CUT_SHORT, NOT_JSON } fault;

static const char *faulty(unsigned i, const char *op, int *close_after, void *ctx)
{
    (void)i;
    const fault *f = ctx;
    if (strcmp(op, "DescribeTable") == 0)
        return fakehttp_ok(FAKEHTTP_TABLE_OK);
    switch (*f) {
    case UNKNOWN_TYPE:
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n"
               "Content-Length: 74\r\n\r\n"
               "{\"__type\":\"com.example#QuotaGoblinException\",\"message\":\"goblins ate it\"}  ";
    case CUT_SHORT:
        *close_after = 1;
        return "HTTP/1.1 200 OK\r\nDate: Tue, 02 Dec 2025 12:00:00 GMT\r\n"
               "Content-Length: 500\r\n\r\n{\"Item\":{\"pk\":{\"S\":";
    case NOT_JSON:
        return fakehttp_ok("{\"Item\": {\"pk\": ");
    }
    return NULL;
}

static void bad_reply(fault f, int rc, const char *words)
{
    fake_credentials();
    fakehttp srv;
    cr_assert_eq(fakehttp_start(&srv, faulty, &f), 0);
    char url[128];
    snprintf(url, sizeof url, "dynamodb://qk_quota?region=us-east-1&endpoint=http://127.0.0.1:%d",
             srv.port);
    const qk_service_def d = one_window("svc", QK_FOREVER, 10, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, 1000, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_record(t, 0, 2, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(t), rc, "%s", qk_errmsg());
    cr_assert(strstr(qk_errmsg(), words) != NULL, "'%s' lacks '%s'", qk_errmsg(), words);
    status_buf sb;
    cr_assert_eq(status_of(t, &sb)->services[0].windows[0].unsynced, 2, "the counts were lost");
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK, "the tracker goes on");
    qk_tracker_free(t);
    fakehttp_stop(&srv);
}

Test(ddb_replies, unknown_error_type)
{
    bad_reply(UNKNOWN_TYPE, QK_EIO, "HTTP 400 QuotaGoblinException: goblins ate it");
}

Test(ddb_replies, body_cut_short)
{
    bad_reply(CUT_SHORT, QK_EIO, "the answer was cut short");
}

Test(ddb_replies, body_not_json)
{
    bad_reply(NOT_JSON, QK_EIO, "the answer is not JSON");
}
