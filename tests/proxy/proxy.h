/* A fault-injecting TCP proxy between quotakeeper hosts and redis-server, for the seeded fault
 * runs (docs/testing.md, "proxy"). It listens on 127.0.0.1 on a port the kernel picks and
 * connects only to 127.0.0.1:<upstream_port>: nothing else is ever reached.
 *
 * It frames the byte streams as RESP (resp.h) so that it acts per request and per reply. Each
 * request draws its fate from the seed, the connection's number (in accept order) and the
 * request's number on it, so a seed names one schedule of faults:
 *   pass         forwarded, its reply forwarded;
 *   delay        the request waits before it goes to the server (requests behind it wait too);
 *   slow reply   the reply waits before it goes back;
 *   duplicate    forwarded, and a copy sent again later on a connection of its own, whose reply
 *                is thrown away: a retry that lands late, possibly after later requests;
 *   drop reply   forwarded, and the reply, once the server has applied the request, thrown
 *                away: the client times out on a request that counted;
 *   cut before   the connection is closed and the request never sent;
 *   cut after    forwarded, and once the server has answered, the connection is closed instead
 *                of answering.
 * Delays are drawn below and beyond a 50 ms client timeout. A delayed request still reaches the
 * server after its client gave up, as a timed-out request on a real network does.
 *
 * Single-threaded and poll-based: the caller drives it with qkp_step, so it runs in the test's
 * main loop beside the children it watches. */
#ifndef QKP_PROXY_H
#define QKP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qkp_proxy qkp_proxy;

typedef enum {
    QKP_PASS,
    QKP_DELAY,
    QKP_SLOW_REPLY,
    QKP_DUPLICATE,
    QKP_DROP_REPLY,
    QKP_CUT_BEFORE,
    QKP_CUT_AFTER,
    QKP_N_FATES
} qkp_fate;

typedef struct {
    int upstream_port; /* redis-server on 127.0.0.1 */
    uint64_t seed;
    unsigned fault_pct; /* of requests, 0..100 */
    unsigned long_pct;  /* of delays, those drawn beyond the client's timeout */
    int short_delay_ms; /* short delays: 1..this */
    int long_delay_ms;  /* long delays: this/2..this */
    int only;           /* -1: faults drawn among all; else every fault is this qkp_fate */
} qkp_config;

extern const char *const qkp_fate_names[QKP_N_FATES];

typedef struct {
    uint64_t connections, requests, replies;
    uint64_t fates[QKP_N_FATES]; /* requests by fate */
    uint64_t duplicates_landed;  /* copies the server answered */
} qkp_stats;

/* Listens; *out on success. 0, or -1 with err filled. */
int qkp_open(qkp_proxy **out, const qkp_config *cfg, char *err, size_t errlen);

/* The port it listens on, on 127.0.0.1. */
int qkp_port(const qkp_proxy *p);

/* From now on every request passes (what was already scheduled still happens): the fault-free
 * path for the hosts' last syncs. */
void qkp_calm(qkp_proxy *p);

/* One round: waits up to timeout_ms for something to do, does it. 0, or -1 with err filled
 * (the proxy itself failed; a connection that misbehaves is only closed). */
int qkp_step(qkp_proxy *p, int timeout_ms, char *err, size_t errlen);

/* Whether nothing is in flight: no delayed request or reply, no duplicate on its way, no
 * request whose reply has not come back. */
bool qkp_idle(const qkp_proxy *p);

void qkp_get_stats(const qkp_proxy *p, qkp_stats *out);

/* Closes every connection and the listener. NULL-safe. */
void qkp_close(qkp_proxy *p);

#endif
