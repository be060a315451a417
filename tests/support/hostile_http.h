/* A hostile HTTP endpoint for tests of the DynamoDB backend: a loopback TCP server, on a thread
 * of the test process, that accepts any number of connections and answers every request badly
 * on purpose, or correctly by relaying it to a real server (dynalite) and its answer back, with
 * the answer's Date header rewritten when asked. Each hostile mode is one of the ways a broken or
 * malicious endpoint (or a proxy in front of one) can hold or bloat a client. Every loop ends when
 * the server is stopped or after 20 s, whatever the client does.
 *
 * A server of its own rather than an extension of tests/store_ddb/fakehttp.c: fakehttp serves
 * one connection at a time with blocking reads and answers from a callback in one write, which
 * is what its suites need (recorded requests, exact replies); answers that never end, or that
 * come a byte at a time to several connections at once, need a poll loop that sends as fast as
 * the client reads, the shape of tests/support/hostile_resp.c (the Redis twin). */
#ifndef QKT_HOSTILE_HTTP_H
#define QKT_HOSTILE_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef enum {
    QKT_HTTP_DRIP, /* a valid status line and headers, then the body a byte every 20 ms */
    QKT_HTTP_ENDLESS_CHUNKED, /* Transfer-Encoding: chunked, 16 KiB chunks forever, as fast as read
                               */
    QKT_HTTP_HUGE_BODY,       /* Content-Length: 1000000000, its bytes as fast as read */
    QKT_HTTP_SILENT,          /* reads the request and never answers */
    QKT_HTTP_SLOW_HEADERS,    /* the status line and header lines a byte every 20 ms */
    QKT_HTTP_FORWARD          /* correct: relays each request to the upstream port, and back */
} qkt_http_mode;

typedef struct {
    int port;          /* where it listens, on 127.0.0.1 */
    int upstream_port; /* QKT_HTTP_FORWARD: the real server's, on 127.0.0.1 */
    /* Both may change while it serves (qkt_hostile_http_set): a request is answered by the
     * mode in force when it has been read whole. */
    _Atomic int mode;
    _Atomic int64_t date_s; /* forwarding: non-zero, every answer's Date header says this time */
    atomic_uint requests;   /* requests read whole, in every mode */
    atomic_uint dates_rewritten;
    int listen_fd;
    atomic_int stop;
    pthread_t thread;
} qkt_hostile_http;

/* Listens on 127.0.0.1 on a free port (h->port) and serves on a thread; upstream_port is used
 * in QKT_HTTP_FORWARD only (0 when there is none). 0, or -1 with errno. */
int qkt_hostile_http_start(qkt_hostile_http *h, qkt_http_mode mode, int upstream_port);

/* Changes the mode for the requests read from now on, and the Date an answer relayed in
 * QKT_HTTP_FORWARD carries (seconds since the epoch; 0: the upstream's own). */
void qkt_hostile_http_set(qkt_hostile_http *h, qkt_http_mode mode, int64_t date_s);

/* Stops serving: every connection is closed and the thread joined. */
void qkt_hostile_http_stop(qkt_hostile_http *h);

#endif
