#include "servers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "tmpdir.h"

#ifndef QKT_DYNALITE_DEFAULT
#define QKT_DYNALITE_DEFAULT "build/node/node_modules/.bin/dynalite"
#endif

enum { START_TIMEOUT_MS = 20000, STOP_GRACE_MS = 5000, PORT_ATTEMPTS = 3, MAX_SERVERS = 32 };

static const char *kind_name(qkt_server_kind kind)
{
    return kind == QKT_REDIS ? "redis-server" : "dynalite";
}

__attribute__((format(printf, 2, 3))) static int fail(qkt_server *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- the registry: what qkt_servers_stop_all stops ---- */

typedef struct {
    pid_t owner; /* the process that started it: a forked child must not stop its parent's */
    pid_t pid;   /* 0 once killed */
    char dir[PATH_MAX];
} entry;

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static entry registry[MAX_SERVERS];
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void install_atexit(void)
{
    atexit(qkt_servers_stop_all);
}

static void registry_put(const char *dir, pid_t pid)
{
    pthread_once(&atexit_once, install_atexit);
    pthread_mutex_lock(&registry_mu);
    entry *free_slot = NULL;
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (registry[i].owner == getpid() && strcmp(registry[i].dir, dir) == 0) {
            registry[i].pid = pid;
            pthread_mutex_unlock(&registry_mu);
            return;
        }
        if (registry[i].owner == 0 && free_slot == NULL)
            free_slot = &registry[i];
    }
    if (free_slot != NULL) {
        free_slot->owner = getpid();
        free_slot->pid = pid;
        snprintf(free_slot->dir, sizeof free_slot->dir, "%s", dir);
    }
    pthread_mutex_unlock(&registry_mu);
}

static void registry_drop(const char *dir, bool forget)
{
    pthread_mutex_lock(&registry_mu);
    for (int i = 0; i < MAX_SERVERS; i++)
        if (registry[i].owner == getpid() && strcmp(registry[i].dir, dir) == 0) {
            if (forget)
                memset(&registry[i], 0, sizeof registry[i]);
            else
                registry[i].pid = 0;
        }
    pthread_mutex_unlock(&registry_mu);
}

/* ---- processes ---- */

static void sleep_ms(int ms)
{
    const struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Reaps pid if it has exited: 1 (with its status), 0 while it runs, -1 if it is not our child. */
static int reaped(pid_t pid, int *status)
{
    pid_t r;
    do
        r = waitpid(pid, status, WNOHANG);
    while (r < 0 && errno == EINTR);
    return r == pid ? 1 : r == 0 ? 0 : -1;
}

/* SIGTERM (and SIGCONT, should it be paused), grace_ms to exit, then SIGKILL; reaped. 0 when it
 * exited on SIGTERM. */
static int terminate(pid_t pid, int grace_ms)
{
    int status;
    kill(pid, SIGTERM);
    kill(pid, SIGCONT);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        const int r = reaped(pid, &status);
        if (r != 0)
            return r > 0 ? 0 : -1;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return -1;
}

void qkt_servers_stop_all(void)
{
    pthread_mutex_lock(&registry_mu);
    for (int i = 0; i < MAX_SERVERS; i++) {
        entry *e = &registry[i];
        if (e->owner != getpid())
            continue;
        if (e->pid > 0)
            terminate(e->pid, STOP_GRACE_MS);
        qkt_tmpdir_remove(e->dir);
        memset(e, 0, sizeof *e);
    }
    pthread_mutex_unlock(&registry_mu);
}

/* ---- finding the binaries ---- */

static bool on_path(const char *name, char *out, size_t len)
{
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        const size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", name);
        if (access(out, X_OK) == 0)
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

static int find_binary(qkt_server *s, char *bin, size_t len)
{
    if (s->kind == QKT_REDIS) {
        const char *env = getenv("QK_REDIS_SERVER");
        if (env != NULL && *env != '\0') {
            snprintf(bin, len, "%s", env);
            if (access(bin, X_OK) != 0)
                return fail(s, "redis-server: QK_REDIS_SERVER=%s is not executable: %s", env,
                            strerror(errno));
            return 0;
        }
        if (!on_path("redis-server", bin, len))
            return fail(s,
                        "redis-server is not on PATH (%s) and QK_REDIS_SERVER is not set; "
                        "install it: scripts/need.sh redis-server",
                        getenv("PATH") ? getenv("PATH") : "unset");
        return 0;
    }
    const char *env = getenv("QK_DYNALITE");
    snprintf(bin, len, "%s", env != NULL && *env != '\0' ? env : QKT_DYNALITE_DEFAULT);
    if (access(bin, X_OK) != 0)
        return fail(s,
                    "dynalite: %s is not there (%s); install it: scripts/need.sh --npm DIR "
                    "dynalite@4.0.0, with DIR the build's QK_NODE_DIR, or set QK_DYNALITE",
                    bin, strerror(errno));
    char node[PATH_MAX];
    if (!on_path("node", node, sizeof node))
        return fail(s, "dynalite: node is not on PATH (%s); install it: scripts/need.sh nodejs",
                    getenv("PATH") ? getenv("PATH") : "unset");
    return 0;
}

static int free_port(qkt_server *s)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(s, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        const int e = errno;
        close(fd);
        return fail(s, "finding a free port: %s", strerror(e));
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* The last few lines of the server's output, for a message. */
static void log_tail(const qkt_server *s, char *out, size_t len)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/server.log", s->dir);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    const long from = size > (long)len - 1 ? size - ((long)len - 1) : 0;
    fseek(f, from, SEEK_SET);
    const size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = '|';
}

/* Forks and execs the server on s->port in s->dir; the child's output goes to server.log. */
static int spawn(qkt_server *s, const char *bin)
{
    char port[16], db[PATH_MAX + 8], logpath[PATH_MAX + 16];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(db, sizeof db, "%s/db", s->dir);
    snprintf(logpath, sizeof logpath, "%s/server.log", s->dir);
    const char *argv[24];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = port;
    if (s->kind == QKT_REDIS) {
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
        argv[n++] = "--dir";
        argv[n++] = s->dir;
        argv[n++] = "--save";
        argv[n++] = "";
        argv[n++] = "--daemonize";
        argv[n++] = "no";
        argv[n++] = "--appendonly";
        argv[n++] = s->opts.redis_appendfsync ? "yes" : "no";
        if (s->opts.redis_appendfsync) {
            argv[n++] = "--appendfsync";
            argv[n++] = s->opts.redis_appendfsync;
        }
    } else {
        argv[n++] = "--host";
        argv[n++] = "127.0.0.1";
        if (s->opts.dynalite_on_disk) {
            argv[n++] = "--path";
            argv[n++] = db;
        }
    }
    argv[n] = NULL;

    const pid_t parent = getpid();
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0)
        return fail(s, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec: the parent may have threads. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        const int in = open("/dev/null", O_RDONLY);
        const int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
            chdir(s->dir) != 0)
            _exit(126);
        execv(bin, (char *const *)argv);
        static const char msg[] = "exec failed\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    s->pid = pid;
    return 0;
}

/* ---- talking to it ---- */

static int connect_to(qkt_server *s, int64_t deadline)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(s, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        const int e = errno;
        close(fd);
        return fail(s, "connect to port %d: %s", s->port, strerror(e));
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    const int64_t left = deadline - qkt_mono_ms();
    int err = 0;
    socklen_t elen = sizeof err;
    if (left <= 0 || poll(&p, 1, (int)left) != 1) {
        close(fd);
        return fail(s, "connect to port %d: timed out", s->port);
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
        close(fd);
        return fail(s, "connect to port %d: %s", s->port, strerror(err));
    }
    return fd;
}

int qkt_server_ping(qkt_server *s, int timeout_ms)
{
    if (s->pid <= 0)
        return fail(s, "%s is not running", kind_name(s->kind));
    const int64_t deadline = qkt_mono_ms() + timeout_ms;
    const int fd = connect_to(s, deadline);
    if (fd < 0)
        return -1;
    const char *req = s->kind == QKT_REDIS
                          ? "*1\r\n$4\r\nPING\r\n"
                          : "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    const char *want = s->kind == QKT_REDIS ? "+PONG\r\n" : "HTTP/1.";
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        const int e = errno;
        close(fd);
        return fail(s, "send to port %d: %s", s->port, strerror(e));
    }
    char got[64];
    size_t n = 0;
    while (n < strlen(want)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        const int64_t left = deadline - qkt_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) != 1) {
            close(fd);
            return fail(s, "%s on port %d: no answer within %d ms", kind_name(s->kind), s->port,
                        timeout_ms);
        }
        const ssize_t r = recv(fd, got + n, sizeof got - 1 - n, 0);
        if (r <= 0) {
            const int e = errno;
            close(fd);
            return fail(s, "%s on port %d: %s", kind_name(s->kind), s->port,
                        r == 0 ? "closed the connection" : strerror(e));
        }
        n += (size_t)r;
    }
    close(fd);
    got[n] = '\0';
    if (strncmp(got, want, strlen(want)) != 0) {
        for (char *p = got; *p; p++)
            if (*p == '\r' || *p == '\n')
                *p = ' ';
        return fail(s, "%s on port %d answered '%s'", kind_name(s->kind), s->port, got);
    }
    return 0;
}

/* Waits for the first answer. 1 if the port was taken (start again elsewhere). */
static int await_answer(qkt_server *s)
{
    const int timeout = s->opts.start_timeout_ms > 0 ? s->opts.start_timeout_ms : START_TIMEOUT_MS;
    const int64_t deadline = qkt_mono_ms() + timeout;
    char last[sizeof s->error] = "";
    for (;;) {
        int status = 0;
        if (reaped(s->pid, &status) != 0) {
            s->pid = 0;
            char tail[400];
            log_tail(s, tail, sizeof tail);
            if (strstr(tail, "in use") || strstr(tail, "EADDRINUSE"))
                return 1;
            return fail(s, "%s exited (%s %d) before answering on port %d; log %s/server.log: %s",
                        kind_name(s->kind), WIFEXITED(status) ? "status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), s->port, s->dir,
                        tail);
        }
        if (qkt_server_ping(s, 500) == 0)
            return 0;
        snprintf(last, sizeof last, "%s", s->error);
        if (qkt_mono_ms() >= deadline) {
            char tail[400];
            log_tail(s, tail, sizeof tail);
            terminate(s->pid, STOP_GRACE_MS);
            s->pid = 0;
            return fail(s, "%s did not answer within %d ms (%s); log %s/server.log: %s",
                        kind_name(s->kind), timeout, last, s->dir, tail);
        }
        sleep_ms(50);
    }
}

/* Starts on s->port, or on fresh ports while the port turns out taken. */
static int launch(qkt_server *s, bool keep_port)
{
    char bin[PATH_MAX];
    if (find_binary(s, bin, sizeof bin) != 0)
        return -1;
    const int attempts = keep_port ? 1 : PORT_ATTEMPTS;
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (!keep_port) {
            const int port = free_port(s);
            if (port < 0)
                return -1;
            s->port = port;
        }
        if (spawn(s, bin) != 0)
            return -1;
        const int rc = await_answer(s);
        if (rc <= 0) {
            if (rc == 0)
                registry_put(s->dir, s->pid);
            return rc;
        }
    }
    return fail(s, "%s: port %d was taken%s", kind_name(s->kind), s->port,
                keep_port ? "" : ", as were the ports tried before it");
}

int qkt_server_start(qkt_server *s, qkt_server_kind kind, const qkt_server_opts *opts)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    if (opts != NULL)
        s->opts = *opts;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(s->dir, sizeof s->dir, "%s/qk-%s-XXXXXX", base, kind == QKT_REDIS ? "redis" : "dyn");
    if (mkdtemp(s->dir) == NULL)
        return fail(s, "mkdtemp %s: %s", s->dir, strerror(errno));
    if (launch(s, false) != 0) {
        qkt_tmpdir_remove(s->dir);
        return -1;
    }
    return 0;
}

int qkt_server_restart(qkt_server *s)
{
    if (s->pid > 0)
        return fail(s, "%s (pid %d) is still running", kind_name(s->kind), (int)s->pid);
    /* Keep the port: a client configured with it must find the server again. */
    return launch(s, true);
}

static int signal_it(qkt_server *s, int sig)
{
    if (s->pid <= 0)
        return fail(s, "%s is not running", kind_name(s->kind));
    if (kill(s->pid, sig) != 0)
        return fail(s, "kill(%d, %s): %s", (int)s->pid, strsignal(sig), strerror(errno));
    return 0;
}

int qkt_server_pause(qkt_server *s)
{
    return signal_it(s, SIGSTOP);
}

int qkt_server_resume(qkt_server *s)
{
    return signal_it(s, SIGCONT);
}

long qkt_server_unread_bytes(const qkt_server *s)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL)
        return -1;
    char line[512];
    long unread = 0;
    if (fgets(line, sizeof line, f) == NULL) { /* the header */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned local_port, state;
        unsigned long rx;
        /* "sl: local_addr:port remote_addr:port st tx_queue:rx_queue ...", in hex */
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%lx", &local_port, &state, &rx) == 3 &&
            local_port == (unsigned)s->port && state == 1 /* ESTABLISHED */)
            unread += (long)rx;
    }
    fclose(f);
    return unread;
}

int qkt_server_kill(qkt_server *s)
{
    if (signal_it(s, SIGKILL) != 0)
        return -1;
    int status;
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
        ;
    s->pid = 0;
    registry_drop(s->dir, false);
    return 0;
}

static int stop(qkt_server *s, bool keep_dir)
{
    int rc = 0;
    if (s->pid > 0) {
        const pid_t pid = s->pid;
        rc = terminate(pid, STOP_GRACE_MS);
        s->pid = 0;
        if (rc != 0)
            fail(s, "%s (pid %d) did not exit within %d ms of SIGTERM: killed", kind_name(s->kind),
                 (int)pid, STOP_GRACE_MS);
    }
    registry_drop(s->dir, !keep_dir);
    if (!keep_dir)
        qkt_tmpdir_remove(s->dir);
    return rc;
}

int qkt_server_stop(qkt_server *s)
{
    return stop(s, false);
}

int qkt_server_stop_keep(qkt_server *s)
{
    return stop(s, true);
}
