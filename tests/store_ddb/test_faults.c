/* Faults against dynalite (issue 10): dynalite stopped (SIGSTOP) longer than the timeout and
 * resumed, so requests land after their caller gave up, must not count twice; the outage
 * contract (a consume the policy refuses is QK_EUNAVAIL, records are kept and delivered); a
 * missing table is an error naming the table and the command that makes it. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ddb_test.h"
#include "procs.h"

TestSuite(ddb_faults, .fini = qkt_servers_stop_all, .timeout = 240);

Test(ddb_faults, late_requests_count_once)
{
    qkt_server srv;
    start_dynalite(&srv);
    char url[128];
    ddb_url(url, sizeof url, &srv, TABLE);
    const qk_service_def d = one_window("late", QK_FOREVER, 100000, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, FAULT_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    uint64_t expect = 10;
    /* Stops at many moments of a sync (during its read, between read and write, during the
     * write): whatever landed late, the totals stay exact. */
    for (int round = 0; round < 12; round++) {
        cr_assert_eq(qk_record(t, 0, 3, NULL), QK_OK);
        expect += 3;
        if (round % 2 == 0) {
            cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
            cr_assert_eq(qk_store_sync(t), QK_EUNAVAIL, "a sync to a stopped server: %s",
                         qk_errmsg());
        } else {
            /* A sync in flight when the server stops: its write may land after the timeout. */
            const pid_t me = getpid();
            pid_t pid = fork();
            if (pid == 0) {
                qkt_child_bounds(me, 10);
                sleep_ms(1 + round % 5);
                kill(srv.pid, SIGSTOP);
                _exit(0);
            }
            qk_store_sync(t);
            waitpid(pid, NULL, 0);
            kill(srv.pid, SIGSTOP);
        }
        sleep_ms(FAULT_TIMEOUT_MS);
        cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
    }
    sleep_ms(200); /* the queued requests run now, before the next sync */
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    fleet_view f = fleet_of(srv.port, "late", 'f');
    cr_assert_eq(f.U, expect, "U %llu, used %llu: a late request counted twice or was lost",
                 (unsigned long long)f.U, (unsigned long long)expect);
    cr_assert_eq(f.sum_u, expect);
    cr_assert_eq(used_of(t, 0, 0), expect);
    qk_tracker_free(t);
    f = fleet_of(srv.port, "late", 'f');
    cr_assert_eq(f.U, expect);
    cr_assert_eq(f.G, expect, "the lease was not all given back");
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

Test(ddb_faults, outage_refuses_by_policy_and_keeps_records)
{
    qkt_server srv;
    start_dynalite(&srv);
    char url[128];
    ddb_url(url, sizeof url, &srv, TABLE);
    const qk_service_def d = one_window("out", QK_FOREVER, 1000, QK_OUTAGE_CLOSED, 2);
    const qk_options o = store_options(&d, 1, url, FAULT_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_eq(qk_try_consume(t, 0, 2, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qkt_server_pause(&srv), 0, "%s", srv.error);
    /* The lease is back in the store (the sync released it): the closed policy refuses. */
    cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_EUNAVAIL, "%s", qk_errmsg());
    for (int i = 0; i < 5; i++) /* records are facts: never refused for the store */
        cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_EUNAVAIL);
    status_buf sb;
    cr_assert_eq(status_of(t, &sb)->services[0].windows[0].unsynced, 5);
    cr_assert_eq(qkt_server_resume(&srv), 0, "%s", srv.error);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    fleet_view f = fleet_of(srv.port, "out", 'f');
    cr_assert_eq(f.U, 7, "U %llu: records made during the outage were lost or doubled",
                 (unsigned long long)f.U);
    cr_assert_eq(status_of(t, &sb)->services[0].windows[0].unsynced, 0);
    qk_tracker_free(t);
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}

Test(ddb_faults, a_missing_table_names_itself_and_the_command)
{
    qkt_server srv;
    start_dynalite(&srv);
    char url[128];
    ddb_url(url, sizeof url, &srv, "qk_not_there");
    const qk_service_def d = one_window("svc", QK_FOREVER, 10, QK_OUTAGE_SAFE, 0);
    const qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o); /* opens: the library never creates tables */
    cr_assert_eq(qk_record(t, 0, 1, NULL), QK_OK);
    cr_assert_eq(qk_store_sync(t), QK_EIO);
    cr_assert(strstr(qk_errmsg(), "'qk_not_there' does not exist") != NULL, "%s", qk_errmsg());
    cr_assert(strstr(qk_errmsg(), "qkctl store init") != NULL, "%s", qk_errmsg());
    cr_assert(strstr(qk_errmsg(), "qk-test-secret") == NULL, "%s", qk_errmsg());
    qk_tracker_free(t);
    long status = 0;
    json_decref(ddb_raw(srv.port, "DescribeTable", "{\"TableName\":\"qk_not_there\"}", &status));
    cr_assert_eq(status, 400, "the table was created");
    cr_assert_eq(qkt_server_stop(&srv), 0, "%s", srv.error);
}
