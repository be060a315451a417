#include "server_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

int perf_fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

int perf_find_on_path(char *bin, size_t len, const char *name)
{
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        const size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(bin, len, "%.*s/%s", (int)n, n ? path : ".", name);
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

int perf_server_prepare(perf_server *s, const char *name, char *err, size_t len)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(s->dir, sizeof s->dir, "%s/qk_perf-%s-XXXXXX", tmp, name);
    if (mkdtemp(s->dir) == NULL)
        return perf_fail(err, len, "mkdtemp %s: %s", s->dir, strerror(errno));
    if ((s->port = free_port()) < 0)
        return perf_fail(err, len, "no free loopback port: %s", strerror(errno));
    return 0;
}

static void sleep_ms(long ms)
{
    const struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int perf_server_spawn(perf_server *s, const char *const argv[], bool (*ready)(int port),
                      int wait_ms, char *err, size_t len)
{
    char log[300];
    snprintf(log, sizeof log, "%s/server.log", s->dir);
    const pid_t parent = getpid();
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0)
        return perf_fail(err, len, "fork: %s", strerror(errno));
    if (pid == 0) { /* only async-signal-safe calls until exec: the parent may have threads */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        const int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int waited = 0; waited < wait_ms; waited += 50) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            return perf_fail(err, len, "%s exited before answering on port %d (log: %s)", argv[0],
                             s->port, log);
        }
        if (ready(s->port))
            return 0;
        sleep_ms(50);
    }
    perf_server_stop(s);
    return perf_fail(err, len, "%s did not answer on port %d within %d ms", argv[0], s->port,
                     wait_ms);
}

void perf_server_stop(perf_server *s)
{
    if (s->pid <= 0 || getpid() == s->pid)
        return;
    kill(s->pid, SIGTERM);
    int status, reaped = 0;
    for (int waited = 0; waited < 3000 && !reaped; waited += 10) {
        reaped = waitpid(s->pid, &status, WNOHANG) == s->pid;
        if (!reaped)
            sleep_ms(10);
    }
    if (!reaped) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    s->pid = 0;
    s->port = 0;
    char log[300];
    snprintf(log, sizeof log, "%s/server.log", s->dir);
    unlink(log);
    rmdir(s->dir);
}
