/* The perf harness's redis-server (redis_server.h): a small cousin of tests/support's server
 * helper, kept here because qk_perf is built without the tests (perf/run.sh). */
#include "redis_server.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "server_process.h"

static perf_server server;
static char version[128] = "unknown";

static void stop_server(void)
{
    perf_server_stop(&server);
}

static int find_binary(char *bin, size_t len)
{
    const char *env = getenv("QK_REDIS_SERVER");
    if (env != NULL && *env != '\0') {
        snprintf(bin, len, "%s", env);
        return access(bin, X_OK) == 0 ? 0 : -1;
    }
    return perf_find_on_path(bin, len, "redis-server");
}

static bool answers(int port)
{
    const struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c != NULL && c->err == 0) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        freeReplyObject(r);
        if (ok && (r = redisCommand(c, "INFO server")) != NULL && r->type == REDIS_REPLY_STRING) {
            const char *v = strstr(r->str, "redis_version:");
            if (v != NULL)
                snprintf(version, sizeof version, "redis-server %.*s", (int)strcspn(v + 14, "\r\n"),
                         v + 14);
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

int perf_redis_start(char *err, size_t len)
{
    if (server.pid > 0)
        return 0;
    char bin[512];
    if (find_binary(bin, sizeof bin) != 0)
        return perf_fail(err, len,
                         "no redis-server (QK_REDIS_SERVER unset or not executable, none on "
                         "PATH): install it (scripts/need.sh redis-server)");
    if (perf_server_prepare(&server, "redis", err, len) != 0)
        return -1;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", server.port);
    const char *argv[] = {bin,     "--port",      port_s,   "--bind", "127.0.0.1",
                          "--dir", server.dir,    "--save", "",       "--appendonly",
                          "no",    "--daemonize", "no",     NULL};
    atexit(stop_server);
    return perf_server_spawn(&server, argv, answers, 10000, err, len);
}

int perf_redis_port(void)
{
    return server.pid > 0 ? server.port : 0;
}

const char *perf_redis_version(void)
{
    return version;
}
