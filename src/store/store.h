/* The store seam: one internal interface between the lease model and the backends that share a
 * fleet's quotas (Redis, then DynamoDB). The model (what to ask for, when, what to do when the
 * store fails) is written once above this interface; a backend only talks to its server and
 * encodes the protocol's messages for it, as libgit2's transports carry one protocol.
 *
 * The protocol is cumulative (docs/design.md, "The store seam"): a host sends, per window, the
 * totals it wants granted, has given back, has used and has refunded in that window, never
 * deltas; what it holds is granted - released - (used - refunded). The
 * store keeps the larger of what it holds and what it is sent, so a retried, duplicated, late
 * or reordered request changes nothing. Backends run outside every tracker lock and never
 * block longer than the timeout they were opened with. */
#ifndef QK_STORE_H
#define QK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "quotakeeper.h"

/* Bumped whenever qk__store_backend changes shape; a backend states the version it implements
 * and the registry refuses any other. */
#define QK__STORE_BACKEND_VERSION 4u /* 2: init; 3: seq and final; 4: clock_ms */

enum {
    QK__STORE_SCHEME_MAX = 16,
    QK__STORE_HOST_MAX = 256,
    QK__STORE_SECRET_MAX = 256,
    QK__STORE_PATH_MAX = 256,
};

/* A store URL split into its parts: scheme://[[user]:password@]host[:port][/path][?query].
 * Which parts a scheme needs is the backend's business (redis: path is the database number;
 * redis+unix: path is the socket and host is empty; dynamodb: host is the table and query holds
 * region= and endpoint=). password is a secret: never put it in a message. */
typedef struct {
    char scheme[QK__STORE_SCHEME_MAX];
    char user[QK__STORE_SECRET_MAX];
    char password[QK__STORE_SECRET_MAX];
    int has_password; /* an empty password is still a password */
    char host[QK__STORE_HOST_MAX];
    int port; /* 0: the backend's default */
    char path[QK__STORE_PATH_MAX];
    char query[QK__STORE_PATH_MAX]; /* after '?', still %-escaped; "" when none */
} qk__store_url;

/* One window of one service, as this host reports it and asks for more. */
typedef struct {
    qk_period period;
    int64_t start_ms, end_ms; /* the window, by the host's corrected clock; end QK_NEVER */
    uint64_t limit;
    uint64_t granted;  /* g_h: the total grant the host wants to have received */
    uint64_t used;     /* u_h: cumulative */
    uint64_t refunded; /* r_h: cumulative */
    uint64_t released; /* x_h: what the host has given back, in total (only grows) */
    /* Periods per window (0 or 1: one), last so that positional initialisers keep their
     * meaning: with period and start, it names the window's keys. */
    uint32_t every;
    /* The IANA zone of a day, week or month that starts at local midnights (qk_window_def.tz),
     * NULL for UTC: part of the window's name, so a zoned day never shares keys with a UTC one
     * of the same start. Its boundaries are the host's to compute; the store only keeps them. */
    const char *tz;
    /* A piece of a rolling window (docs/store.md, "Rolling windows"): the store grants in it
     * only what the limit leaves over every other piece of the window that ended less than
     * horizon_ms ago (qk__store_horizon_ms). 0: a fixed window. */
    int64_t horizon_ms;
} qk__store_window_req;

/* Up to QK__STORE_SYNC_WINDOWS windows: a service's current ones, and the ones that ended before
 * their last counts reached the store. */
#define QK__STORE_SYNC_WINDOWS (2 * QK_MAX_WINDOWS)

typedef struct {
    const char *service;
    const char *host_id;
    /* This host's request number for the service: it only grows, so the store tells the newest
     * request from a late or repeated one, which may change counters (by max) but is granted
     * nothing and brings no retired host back (docs/store.md, "Retirement"). */
    uint64_t seq;
    /* The host's last word for the service (a private tracker freed, everything given back): the
     * store retires the host at once instead of after QK__STORE_RETIRE_MS of silence. */
    unsigned final;
    unsigned n_windows;
    qk__store_window_req w[QK__STORE_SYNC_WINDOWS];
} qk__store_sync_req;

/* What the store holds for a window after applying a request. */
typedef struct {
    uint64_t granted_host;         /* g_h: grants to the host, in total */
    uint64_t released_host;        /* x_h: given back by the host, in total */
    uint64_t granted, used, limit; /* G, U and L for the fleet */
    uint64_t overdraft;            /* max(0, G - L): use recorded beyond the limit */
    uint32_t active_hosts;         /* hosts seen recently, for fair shares */
} qk__store_window_reply;

typedef struct {
    int64_t server_ms; /* the store's clock when it applied the request */
    qk__store_window_reply w[QK__STORE_SYNC_WINDOWS];
} qk__store_sync_reply;

typedef struct qk__store_conn qk__store_conn; /* a backend's connection, opaque above it */

/* A backend. Every function returns QK_OK or a negative code with a message (qk__fail) that
 * names no secret: QK_EUNAVAIL when the server cannot be reached or does not answer in time,
 * QK_EINVAL for what the server refuses as malformed, QK_EIO for an answer that makes no
 * sense. A connection is used by one thread at a time. */
typedef struct {
    unsigned version;   /* QK__STORE_BACKEND_VERSION */
    const char *scheme; /* the URL scheme it serves */
    /* Checks what open would need from url, without connecting: QK_EINVAL when a part is
     * missing or malformed. A tracker calls it at qk_tracker_new, so a bad URL fails there
     * while an unreachable server does not. */
    int (*check_url)(const qk__store_url *url);
    /* Makes a connection object; it connects on first use, so an unreachable store does not
     * stop a tracker from opening. QK_ENOMEM. */
    int (*open)(qk__store_conn **out, const qk__store_url *url);
    /* Applies req (every window of one service) and fills reply, giving up at deadline_ms (on
     * the monotonic clock, qk__store_now_ms). */
    int (*sync)(qk__store_conn *c, const qk__store_sync_req *req, qk__store_sync_reply *reply,
                int64_t deadline_ms);
    int (*server_time)(qk__store_conn *c, int64_t *server_ms, int64_t deadline_ms);
    void (*close)(qk__store_conn *c); /* NULL-safe */
    /* qk_store_init: makes what the store needs before any tracker uses it (*created = 1), or
     * finds it there and fit for use (*created = 0). Only an operator's explicit call runs it:
     * a tracker never creates anything. */
    int (*init)(qk__store_conn *c, int64_t deadline_ms, int *created);
    /* The resolution of the store's clock in ms (Redis TIME: 1; DynamoDB's Date header: 1000),
     * which a rolling window's pieces are cut to (qk__store_piece_ms). Last, so that a backend
     * written before it (tests/store_legacy) reads as 0: taken as 1. */
    int64_t clock_ms;
} qk__store_backend;

/* qk_store_init's timeout when it is given 0: a new DynamoDB table takes seconds to become
 * ACTIVE. */
#define QK__STORE_INIT_MS 30000

/* The monotonic clock deadlines are measured on, in ms. */
int64_t qk__store_now_ms(void);

/* Splits url into out. QK_EINVAL, with a message that shows the URL without its password. */
int qk__store_url_parse(qk__store_url *out, const char *url);

/* Copies src[0..n) into dst (cap bytes), decoding %XX, so a password or a query value may hold
 * ':', '@', '/' or '&'. Returns 0, or -1 when it does not fit or an escape is malformed. */
int qk__store_url_decode(char *dst, size_t cap, const char *src, size_t n);

/* The URL as it may appear in a message or a log: the password replaced by "***". */
void qk__store_url_redact(char *buf, size_t len, const char *url);

/* The backend compiled in for scheme, or NULL. */
const qk__store_backend *qk__store_backend_find(const char *scheme);

/* Parses url and finds its backend, which checks it: what qk_tracker_new does with
 * qk_options.store. QK_EINVAL for a malformed URL or a scheme this build has no backend for. */
int qk__store_check(const char *url, const qk__store_backend **backend, qk__store_url *parsed);

#endif
