/* The perf harness's redis-server (redis_server.h), started with tests/support's server helper
 * (tests/support/servers.c, compiled into qk_perf from its source path by perf/CMakeLists.txt,
 * so that perf builds without the tests): one launcher for the tests and perf, so a fix to how
 * a server is started, found or stopped reaches both. */
#include "redis_server.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "servers.h"

static qkt_server server;
static char version[128] = "unknown";

/* INFO server's version, for the report. */
static void read_version(int port)
{
    const struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err == 0) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "INFO server");
        if (r != NULL && r->type == REDIS_REPLY_STRING) {
            const char *v = strstr(r->str, "redis_version:");
            if (v != NULL)
                snprintf(version, sizeof version, "redis-server %.*s", (int)strcspn(v + 14, "\r\n"),
                         v + 14);
        }
        freeReplyObject(r);
    }
    redisFree(c);
}

int perf_redis_start(char *err, size_t len)
{
    if (server.pid > 0)
        return 0;
    /* No persistence (opts NULL); stopped at exit by the helper's own atexit, and with the
     * thread that started it (the main thread: strategies are created there). */
    if (qkt_server_start(&server, QKT_REDIS, NULL) != 0) {
        snprintf(err, len, "%s (scripts/need.sh redis-server, or set QK_REDIS_SERVER)",
                 server.error);
        return -1;
    }
    read_version(server.port);
    return 0;
}

int perf_redis_port(void)
{
    return server.pid > 0 ? server.port : 0;
}

const char *perf_redis_version(void)
{
    return version;
}
