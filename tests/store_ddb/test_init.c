/* qk_store_init and qkctl store init on dynalite: the operator's one call that makes the
 * table, since a tracker never creates one (issue 10).
 *
 * Claims: a missing table is created with quotakeeper's key and is ACTIVE when the call
 * returns, so a tracker syncs on it at once; a second call finds it and changes nothing; a
 * table of that name with another key is refused (QK_EINVAL) and left as it was; bad input is
 * QK_EINVAL and writes nothing; a store that does not answer is QK_EUNAVAIL within the timeout;
 * qkctl store init says the same with its exit codes. */
#include <quotakeeper.h>
#include <stdio.h>
#include <unistd.h>

#include "ddb_test.h"

TestSuite(ddb_init, .fini = qkt_servers_stop_all, .timeout = 120);

/* DescribeTable's status and key, "" when the table does not exist. */
static void table_shape(int port, const char *table, char *status, char *key)
{
    char body[128];
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", table);
    long http = 0;
    json_t *j = ddb_raw(port, "DescribeTable", body, &http);
    const char *st = "", *k = "";
    json_unpack(j, "{s:{s:s, s:[{s:s}]}}", "Table", "TableStatus", &st, "KeySchema",
                "AttributeName", &k);
    snprintf(status, 16, "%s", http == 200 ? st : "");
    snprintf(key, 16, "%s", http == 200 ? k : "");
    json_decref(j);
}

Test(ddb_init, creates_the_table_active_then_finds_it_unchanged)
{
    qkt_server srv;
    fake_credentials();
    cr_assert_eq(qkt_server_start(&srv, QKT_DYNALITE, NULL), 0, "%s", srv.error);
    char url[160], status[16], key[16];
    ddb_url(url, sizeof url, &srv, "qk_made");
    table_shape(srv.port, "qk_made", status, key);
    cr_assert_str_eq(status, "", "the table exists before init");

    int created = -1;
    cr_assert_eq(qk_store_init(&created, url, 20000), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(created, 1);
    table_shape(srv.port, "qk_made", status, key);
    cr_assert_str_eq(status, "ACTIVE", "init returned before the table was ACTIVE");
    cr_assert_str_eq(key, "pk");

    /* Usable at once: a tracker consumes and syncs on it. */
    const qk_service_def d = one_window("made", QK_FOREVER, 10, QK_OUTAGE_CLOSED, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_try_consume(t, 0, 3, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);

    created = -1;
    cr_assert_eq(qk_store_init(&created, url, 20000), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(created, 0, "a second init claims it made the table");
    cr_assert_eq(qk_store_init(NULL, url, 0), QK_OK, "created may be NULL: %s", qk_errmsg());
}

Test(ddb_init, a_table_with_another_key_is_refused_and_left_alone)
{
    qkt_server srv;
    fake_credentials();
    cr_assert_eq(qkt_server_start(&srv, QKT_DYNALITE, NULL), 0, "%s", srv.error);
    create_table_keyed(srv.port, "qk_other", "id");
    char url[160], status[16], key[16];
    ddb_url(url, sizeof url, &srv, "qk_other");
    int created = 7;
    cr_assert_eq(qk_store_init(&created, url, 20000), QK_EINVAL, "%s", qk_errmsg());
    cr_assert_eq(created, 7, "written on failure");
    cr_assert(strstr(qk_errmsg(), "qk_other") != NULL, "the message names no table: %s",
              qk_errmsg());
    table_shape(srv.port, "qk_other", status, key);
    cr_assert_str_eq(key, "id", "the table was changed");
}

Test(ddb_init, bad_input_is_einval_and_writes_nothing)
{
    fake_credentials();
    int created = 7;
    cr_assert_eq(qk_store_init(&created, NULL, 0), QK_EINVAL);
    cr_assert_eq(qk_store_init(&created, "dynamodb://qk_quota", 0), QK_EINVAL); /* no region */
    cr_assert(strstr(qk_errmsg(), "region") != NULL, "%s", qk_errmsg());
    cr_assert_eq(qk_store_init(&created, "memcached://host", 0), QK_EINVAL);
    cr_assert_eq(qk_store_init(&created, "dynamodb://qk_quota?region=us-east-1", -1), QK_EINVAL);
    cr_assert_eq(created, 7);
}

Test(ddb_init, a_store_that_does_not_answer_is_eunavail_in_time)
{
    qkt_server srv;
    fake_credentials();
    cr_assert_eq(qkt_server_start(&srv, QKT_DYNALITE, NULL), 0, "%s", srv.error);
    char url[160];
    ddb_url(url, sizeof url, &srv, "qk_late");
    cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
    const int64_t t0 = qkt_mono_ms();
    int created = 7;
    const int rc = qk_store_init(&created, url, FAULT_TIMEOUT_MS);
    const int64_t took = qkt_mono_ms() - t0;
    cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
    cr_assert_eq(rc, QK_EUNAVAIL, "%s: %s", qk_err_name(rc), qk_errmsg());
    cr_assert_eq(created, 7);
    cr_assert_lt(took, FAULT_TIMEOUT_MS + 2000, "waited %lld ms", (long long)took);
}

#ifdef QKCTL_BIN
/* qkctl store init URL: its exit code and its first line of output. */
static int qkctl_store_init(const char *url, char *line, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' store init '%s' 2>&1", QKCTL_BIN, url);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    line[0] = '\0';
    if (fgets(line, (int)cap, p) == NULL)
        line[0] = '\0';
    char rest[256];
    while (fgets(rest, sizeof rest, p) != NULL)
        ;
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(ddb_init, qkctl_store_init_creates_then_finds)
{
    qkt_server srv;
    fake_credentials();
    cr_assert_eq(qkt_server_start(&srv, QKT_DYNALITE, NULL), 0, "%s", srv.error);
    char url[160], line[256], status[16], key[16];
    ddb_url(url, sizeof url, &srv, "qk_cli");
    cr_assert_eq(qkctl_store_init(url, line, sizeof line), 0, "%s", line);
    cr_assert(strstr(line, "created") != NULL, "%s", line);
    table_shape(srv.port, "qk_cli", status, key);
    cr_assert_str_eq(status, "ACTIVE");
    cr_assert_eq(qkctl_store_init(url, line, sizeof line), 0, "%s", line);
    cr_assert(strstr(line, "already there") != NULL, "%s", line);
    create_table_keyed(srv.port, "qk_cli_other", "id");
    ddb_url(url, sizeof url, &srv, "qk_cli_other");
    cr_assert_eq(qkctl_store_init(url, line, sizeof line), 1, "%s", line);
    cr_assert(strstr(line, "quotakeeper's key") != NULL, "%s", line);
}
#endif
