/* A hostile Redis for tests: a loopback TCP server, on a thread of the test process, that
 * accepts any number of connections and answers every command badly on purpose. Each mode is
 * one of the ways a broken or malicious server (or a proxy in front of one) can hold or bloat a
 * client. Every loop ends when the server is stopped or after 20 s, whatever the client does.
 *
 * QKT_RESP_LIE is the other kind of hostile: a relay in front of a real redis-server that
 * answers well-formed replies with false figures in them (a lying server or a man in the
 * middle). It frames both directions as RESP, remembers which command each reply answers, and
 * rewrites the replies the lies chosen (qkt_hostile_resp_lie, changeable at any time) cover.
 * It lives here rather than in tests/proxy because the store suites link this library and the
 * relay must run on a thread while the test's own thread sits in a store call; tests/proxy's
 * fault proxy is stepped from the caller's loop and only frames lengths. */
#ifndef QKT_HOSTILE_RESP_H
#define QKT_HOSTILE_RESP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef enum {
    QKT_RESP_DRIP,       /* a valid 500-byte reply, one byte every 20 ms (10 s) */
    QKT_RESP_ENDLESS,    /* a bulk string announced as 1 GB, its bytes sent as fast as read */
    QKT_RESP_HUGE_ARRAY, /* "*100000000\r\n", then integers as fast as read */
    QKT_RESP_SILENT,     /* reads the command and never answers (a read timeout suffices) */
    QKT_RESP_LIE         /* relays to a real server and rewrites its replies (below) */
} qkt_resp_mode;

/* The lies of QKT_RESP_LIE, or-ed; 0 relays every reply as it came. */
enum {
    /* TIME's reply, and the server time that leads the sync script's reply (its first element,
     * src/store/redis.c), moved QKT_LIE_AHEAD_MS ahead. */
    QKT_LIE_TIME = 1,
    /* The fleet's use U in every window of the sync script's reply set to 0: with one host, a
     * store saying this host used nothing. */
    QKT_LIE_NO_USE = 2
};
#define QKT_LIE_AHEAD_MS (INT64_C(36525) * 86400000) /* 100 years */

typedef struct {
    int port;
    qkt_resp_mode mode;
    int listen_fd;
    atomic_int stop;
    pthread_t thread;
    int upstream_port;   /* QKT_RESP_LIE: the real server, on 127.0.0.1 */
    atomic_uint lies;    /* QKT_RESP_LIE: the QKT_LIE_* in force */
    atomic_uint told;    /* QKT_RESP_LIE: replies rewritten so far */
    atomic_uint relayed; /* QKT_RESP_LIE: replies passed back so far, rewritten or not */
} qkt_hostile_resp;

/* Listens on 127.0.0.1 on a free port (h->port) and serves on a thread. 0, or -1 with errno. */
int qkt_hostile_resp_start(qkt_hostile_resp *h, qkt_resp_mode mode);

/* QKT_RESP_LIE in front of 127.0.0.1:upstream_port, telling lies (QKT_LIE_*) from the start;
 * each client connection gets its own upstream connection. 0, or -1 with errno. */
int qkt_hostile_resp_relay(qkt_hostile_resp *h, int upstream_port, unsigned lies);

/* The lies told from the next reply on; 0: the truth. */
void qkt_hostile_resp_lie(qkt_hostile_resp *h, unsigned lies);

/* Stops serving: every connection is closed and the thread joined. */
void qkt_hostile_resp_stop(qkt_hostile_resp *h);

#endif
