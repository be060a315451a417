/* The perf harness's redis-server (redis_server.h): a small cousin of tests/support's server
 * helper, kept here because qk_perf is built without the tests (perf/run.sh). */
#include "redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static pid_t server_pid;
static int server_port;
static char server_dir[256];
static char version[128] = "unknown";

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

static int find_binary(char *bin, size_t len)
{
    const char *env = getenv("QK_REDIS_SERVER");
    if (env != NULL && *env != '\0') {
        snprintf(bin, len, "%s", env);
        return access(bin, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        const size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(bin, len, "%.*s/redis-server", (int)n, n ? path : ".");
        if (access(bin, X_OK) == 0)
            return 0;
        path = end ? end + 1 : NULL;
    }
    return -1;
}

static int free_port(void)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    const int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                   getsockname(fd, (struct sockaddr *)&a, &alen) == 0;
    if (fd >= 0)
        close(fd);
    return ok ? ntohs(a.sin_port) : -1;
}

static void stop_server(void)
{
    if (server_pid <= 0 || getpid() == server_pid)
        return;
    kill(server_pid, SIGTERM);
    int status;
    for (int waited = 0; waited < 3000; waited += 10) {
        if (waitpid(server_pid, &status, WNOHANG) == server_pid)
            goto reaped;
        const struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, &status, 0);
reaped:
    server_pid = 0;
    server_port = 0;
    char log[300];
    snprintf(log, sizeof log, "%s/server.log", server_dir);
    unlink(log);
    rmdir(server_dir);
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
    if (server_pid > 0)
        return 0;
    char bin[512];
    if (find_binary(bin, sizeof bin) != 0)
        return fail(err, len,
                    "no redis-server (QK_REDIS_SERVER unset or not executable, none on PATH): "
                    "install it (scripts/need.sh redis-server)");
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(server_dir, sizeof server_dir, "%s/qk_perf-redis-XXXXXX", tmp);
    if (mkdtemp(server_dir) == NULL)
        return fail(err, len, "mkdtemp %s: %s", server_dir, strerror(errno));
    const int port = free_port();
    char port_s[16], log[300];
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(log, sizeof log, "%s/server.log", server_dir);
    const pid_t parent = getpid();
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0)
        return fail(err, len, "fork: %s", strerror(errno));
    if (pid == 0) { /* only async-signal-safe calls until exec: the parent may have threads */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        const int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        const char *argv[] = {bin,     "--port",      port_s,   "--bind", "127.0.0.1",
                              "--dir", server_dir,    "--save", "",       "--appendonly",
                              "no",    "--daemonize", "no",     NULL};
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    server_pid = pid;
    atexit(stop_server);
    for (int waited = 0; waited < 10000; waited += 50) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            server_pid = 0;
            return fail(err, len, "%s exited before answering on port %d (log: %s)", bin, port,
                        log);
        }
        if (answers(port)) {
            server_port = port;
            return 0;
        }
        const struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    stop_server();
    return fail(err, len, "%s did not answer on port %d within 10 s", bin, port);
}

int perf_redis_port(void)
{
    return server_port;
}

const char *perf_redis_version(void)
{
    return version;
}
