/* A hostile Redis for tests: a loopback TCP server, on a thread of the test process, that
 * accepts any number of connections and answers every command badly on purpose. Each mode is
 * one of the ways a broken or malicious server (or a proxy in front of one) can hold or bloat a
 * client. Every loop ends when the server is stopped or after 20 s, whatever the client does. */
#ifndef QKT_HOSTILE_RESP_H
#define QKT_HOSTILE_RESP_H

#include <pthread.h>
#include <stdatomic.h>

typedef enum {
    QKT_RESP_DRIP,       /* a valid 100-byte reply, one byte every 20 ms */
    QKT_RESP_ENDLESS,    /* a bulk string announced as 1 GB, its bytes sent as fast as read */
    QKT_RESP_HUGE_ARRAY, /* "*100000000\r\n", then integers as fast as read */
    QKT_RESP_SILENT      /* reads the command and never answers (a read timeout suffices) */
} qkt_resp_mode;

typedef struct {
    int port;
    qkt_resp_mode mode;
    int listen_fd;
    atomic_int stop;
    pthread_t thread;
} qkt_hostile_resp;

/* Listens on 127.0.0.1 on a free port (h->port) and serves on a thread. 0, or -1 with errno. */
int qkt_hostile_resp_start(qkt_hostile_resp *h, qkt_resp_mode mode);

/* Stops serving: every connection is closed and the thread joined. */
void qkt_hostile_resp_stop(qkt_hostile_resp *h);

#endif
