/* The server helper (servers.h) against the real servers: a start answers, a paused server
 * times out and answers again once resumed, a stop leaves no process behind, a killed server
 * restarts on its port. A server that cannot start fails the test with the helper's message:
 * a missing redis-server or dynalite is a failure, never a skip. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>

#include "qkt_criterion.h"
#include "servers.h"

TestSuite(servers, .fini = qkt_servers_stop_all);

/* Whether pid is gone: no process, or none we could signal (reaped: nothing left). */
static bool gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

static void start(qkt_server *s, qkt_server_kind kind, const qkt_server_opts *opts)
{
    cr_assert_eq(qkt_server_start(s, kind, opts), 0, "%s", s->error);
    cr_assert_gt(s->pid, 0);
    cr_assert_gt(s->port, 0);
}

static void stop_and_check_gone(qkt_server *s)
{
    const pid_t pid = s->pid;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", s->dir);
    cr_assert_eq(qkt_server_stop(s), 0, "%s", s->error);
    cr_assert_eq(s->pid, 0);
    cr_assert(gone(pid), "pid %d still exists after stop", (int)pid);
    struct stat sb;
    cr_assert_neq(stat(dir, &sb), 0, "%s still exists after stop", dir);
}

Test(servers, redis_answers_times_out_while_paused_and_stops)
{
    qkt_server s;
    start(&s, QKT_REDIS, NULL);
    cr_assert_eq(qkt_server_ping(&s, 2000), 0, "%s", s.error);

    cr_assert_eq(qkt_server_pause(&s), 0, "%s", s.error);
    cr_assert_neq(qkt_server_ping(&s, 300), 0, "a paused redis-server answered");
    cr_assert_not_null(strstr(s.error, "no answer within 300 ms"), "%s", s.error);
    cr_assert_eq(qkt_server_resume(&s), 0, "%s", s.error);
    cr_assert_eq(qkt_server_ping(&s, 2000), 0, "%s", s.error);

    stop_and_check_gone(&s);
    cr_assert_neq(qkt_server_ping(&s, 300), 0, "a stopped server answered");
}

Test(servers, redis_paused_still_stops)
{
    qkt_server s;
    start(&s, QKT_REDIS, NULL);
    cr_assert_eq(qkt_server_pause(&s), 0, "%s", s.error);
    stop_and_check_gone(&s);
}

Test(servers, redis_killed_restarts_on_its_port_with_its_appendonly_file)
{
    const qkt_server_opts opts = {.redis_appendfsync = "always"};
    qkt_server s;
    start(&s, QKT_REDIS, &opts);
    const int port = s.port;
    const pid_t first = s.pid;
    cr_assert_eq(qkt_server_kill(&s), 0, "%s", s.error);
    cr_assert(gone(first), "pid %d still exists after kill", (int)first);
    cr_assert_neq(qkt_server_ping(&s, 300), 0, "a killed server answered");

    cr_assert_eq(qkt_server_restart(&s), 0, "%s", s.error);
    cr_assert_eq(s.port, port);
    cr_assert_eq(qkt_server_ping(&s, 2000), 0, "%s", s.error);
    char aof[PATH_MAX + 32];
    snprintf(aof, sizeof aof, "%s/appendonlydir", s.dir);
    struct stat sb;
    cr_assert_eq(stat(aof, &sb), 0, "no %s: appendonly is not on", aof);
    stop_and_check_gone(&s);
}

Test(servers, dynalite_answers_and_stops)
{
    qkt_server s;
    start(&s, QKT_DYNALITE, NULL);
    cr_assert_eq(qkt_server_ping(&s, 2000), 0, "%s", s.error);
    cr_assert_eq(qkt_server_pause(&s), 0, "%s", s.error);
    cr_assert_neq(qkt_server_ping(&s, 300), 0, "a paused dynalite answered");
    cr_assert_eq(qkt_server_resume(&s), 0, "%s", s.error);
    cr_assert_eq(qkt_server_ping(&s, 2000), 0, "%s", s.error);
    stop_and_check_gone(&s);
}
