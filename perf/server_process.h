/* A server qk_perf runs for the store strategies (redis_server.c, ddb_server.c): its private
 * temporary directory, a free loopback port, a child that dies with qk_perf and logs to
 * <dir>/server.log, the wait until it answers, and the stop by pid. What differs between
 * servers (the binary, its arguments, what "answers" means) stays with each caller. */
#ifndef QK_PERF_SERVER_PROCESS_H
#define QK_PERF_SERVER_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;     /* 0: not running */
    int port;      /* on 127.0.0.1, set before the start */
    char dir[256]; /* the private directory; its server.log holds the server's output */
} perf_server;

/* Records why in err and returns -1. */
int perf_fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The first executable `name` on PATH, into bin: 0 or -1. */
int perf_find_on_path(char *bin, size_t len, const char *name);

/* Makes s->dir (<TMPDIR>/qk_perf-<name>-XXXXXX) and picks s->port: 0, or -1 with err. */
int perf_server_prepare(perf_server *s, const char *name, char *err, size_t len);

/* Starts argv (argv[0] the binary) with its output in s->dir/server.log, then waits up to
 * wait_ms until ready(s->port). 0, or -1 with err (the child is stopped). */
int perf_server_spawn(perf_server *s, const char *const argv[], bool (*ready)(int port),
                      int wait_ms, char *err, size_t len);

/* SIGTERM, SIGKILL after 3 s, reaped; the directory removed. Safe to call twice. */
void perf_server_stop(perf_server *s);

#endif
