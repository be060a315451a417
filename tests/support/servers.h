/* Real store servers for tests: redis-server or dynalite (a DynamoDB emulator on node), each on
 * a free loopback port in its own temporary directory, answering before start returns, and
 * stopped by pid.
 *
 * A failed start is an error with a message (qkt_server.error) that the caller turns into a test
 * failure: a missing binary, a server that exits or does not answer in time. Never a skip: a
 * store test that does not run has proved nothing.
 *
 * Where the binaries are:
 * - redis-server: $QK_REDIS_SERVER if set, else redis-server on PATH (Debian's package);
 * - dynalite: $QK_DYNALITE if set, else the path compiled in from the CMake cache variable
 *   QK_NODE_DIR (<QK_NODE_DIR>/node_modules/.bin/dynalite, put there by
 *   `scripts/need.sh --npm <QK_NODE_DIR> dynalite@4.0.0`); it needs node on PATH.
 *
 * Every started server is registered, and qkt_servers_stop_all() (run at exit, and from a
 * Criterion suite's .fini) stops any still running, so a failed test leaves none behind. A
 * server also gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so even a
 * crashed test process leaves none: start servers from a thread that outlives them (the main
 * thread). Server operations are not thread-safe on one qkt_server. */
#ifndef QKT_SERVERS_H
#define QKT_SERVERS_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

typedef enum { QKT_REDIS, QKT_DYNALITE } qkt_server_kind;

typedef struct {
    /* redis: appendonly yes with this appendfsync policy ("always", "everysec", "no"), for
     * crash tests; NULL: no persistence at all (no RDB snapshots, no AOF). */
    const char *redis_appendfsync;
    /* dynalite: keep tables in LevelDB under the server's directory; false: in memory. */
    bool dynalite_on_disk;
    /* Milliseconds to wait for the first answer; 0: 20000 (node starts slowly on a busy
     * machine). */
    int start_timeout_ms;
} qkt_server_opts;

typedef struct {
    qkt_server_kind kind;
    qkt_server_opts opts;
    pid_t pid;          /* 0 when not running */
    int port;           /* on 127.0.0.1 */
    char dir[PATH_MAX]; /* its working directory; its output goes to <dir>/server.log */
    char error[1024];   /* why the last operation failed */
} qkt_server;

/* Starts a server (opts may be NULL) and waits until it answers. 0, or -1 with s->error set and
 * nothing left running. */
int qkt_server_start(qkt_server *s, qkt_server_kind kind, const qkt_server_opts *opts);

/* One request with a deadline: redis PING must get +PONG; dynalite any HTTP response. 0, or -1
 * with s->error set (refused, timed out, a wrong answer). */
int qkt_server_ping(qkt_server *s, int timeout_ms);

/* SIGSTOP / SIGCONT: a server that accepts connections and answers nothing. */
int qkt_server_pause(qkt_server *s);
int qkt_server_resume(qkt_server *s);

/* Bytes that arrived on the server's connections and that it has not read yet (the kernel's
 * receive queues of its established loopback sockets, from /proc/net/tcp): while it is paused,
 * proof that a client's request was sent. -1 when /proc cannot be read. */
long qkt_server_unread_bytes(const qkt_server *s);

/* SIGKILL and reap: a crash. The directory stays, for qkt_server_restart. */
int qkt_server_kill(qkt_server *s);

/* Starts the server again on the same port and directory (after qkt_server_kill or
 * qkt_server_stop_keep): redis with appendonly replays its AOF, dynalite on disk its LevelDB. */
int qkt_server_restart(qkt_server *s);

/* SIGTERM, up to 5 s for it to exit, then SIGKILL; reaped either way. Removes its directory.
 * 0, or -1 with s->error set when it had to be killed or could not be reaped. */
int qkt_server_stop(qkt_server *s);

/* As qkt_server_stop, keeping the directory for a restart. */
int qkt_server_stop_keep(qkt_server *s);

/* Stops every registered server still running and removes its directory. */
void qkt_servers_stop_all(void);

#endif
