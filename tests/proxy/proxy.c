/* The fault-injecting proxy (proxy.h). Per client connection it keeps, in order, the requests
 * on their way to the server (each with the time it may go), what to do with each reply the
 * server owes (deliver, after how long; throw away; throw away and cut), and the replies on
 * their way back. A duplicate goes on a side connection of its own, so that it can land after
 * requests that followed it. */
#include "loopback.h"
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "resp.h"

const char *const qkp_fate_names[QKP_N_FATES] = {
    "pass", "delay", "slow-reply", "duplicate", "drop-reply", "cut-before", "cut-after"};

typedef struct {
    char *p;
    size_t len, cap;
} buf;

/* A request on its way to the server, or a reply on its way back. */
typedef struct {
    char *bytes;
    size_t len;
    int64_t due;      /* monotonic ms */
    int dup_delay_ms; /* requests: >= 0 sends a copy that long after this one goes; -1 none */
} item;

typedef struct {
    item *v;
    size_t head, n, cap;
} queue;

typedef enum { REPLY_DELIVER, REPLY_SWALLOW, REPLY_SWALLOW_CUT } reply_action;

typedef struct {
    reply_action action;
    int delay_ms;
} owed;

typedef struct {
    uint64_t number; /* in accept order: with the request's number, what seeds its fate */
    uint64_t requests;
    int cfd, sfd; /* -1 once closed */
    buf cin, sin, cout, sout;
    queue to_server, to_client;
    owed *owed;
    size_t owed_head, owed_n, owed_cap;
    int64_t last_reply_due;
} conn;

/* A duplicate: its own connection, one request, its reply thrown away. */
typedef struct {
    int fd; /* -1 until due */
    int64_t due;
    buf out, in;
} side;

struct qkp_proxy {
    qkp_config cfg;
    int lfd, port;
    bool calm;
    conn **conns;
    size_t n_conns, cap_conns;
    side **sides;
    size_t n_sides, cap_sides;
    qkp_stats stats;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err != NULL && len > 0)
        vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * size);
    if (q == NULL) {
        fputs("qkp: out of memory\n", stderr);
        abort();
    }
    *cap = c;
    return q;
}

static void buf_add(buf *b, const char *p, size_t n)
{
    b->p = grow(b->p, &b->cap, b->len + n + 1, 1);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_drop(buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void queue_push(queue *q, item it)
{
    if (q->head > 0 && q->head == q->n) {
        q->head = q->n = 0;
    }
    q->v = grow(q->v, &q->cap, q->n + 1, sizeof *q->v);
    q->v[q->n++] = it;
}

static item *queue_front(queue *q)
{
    return q->head < q->n ? &q->v[q->head] : NULL;
}

static void queue_clear(queue *q)
{
    for (size_t i = q->head; i < q->n; i++)
        free(q->v[i].bytes);
    free(q->v);
    memset(q, 0, sizeof *q);
}

/* ---- the seed's decisions ---- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

typedef struct {
    qkp_fate fate;
    int delay_ms;
} decision;

static decision decide(const qkp_proxy *p, conn *c)
{
    const qkp_config *cfg = &p->cfg;
    uint64_t r = mix(cfg->seed ^ mix(c->number * 0x2545f4914f6cdd1du + c->requests));
    decision d = {QKP_PASS, 0};
    const uint64_t r1 = r % 100, r2 = (r >> 8) % (QKP_N_FATES - 1), r3 = (r >> 16) % 100;
    const uint64_t r4 = r >> 24;
    if (p->calm || r1 >= cfg->fault_pct)
        return d;
    d.fate =
        cfg->only > QKP_PASS && cfg->only < QKP_N_FATES ? (qkp_fate)cfg->only : (qkp_fate)(1 + r2);
    if (r3 < cfg->long_pct && cfg->long_delay_ms > 1)
        d.delay_ms = cfg->long_delay_ms / 2 + (int)(r4 % (uint64_t)(cfg->long_delay_ms / 2 + 1));
    else
        d.delay_ms = 1 + (int)(r4 % (uint64_t)(cfg->short_delay_ms > 0 ? cfg->short_delay_ms : 1));
    return d;
}

/* ---- sockets ---- */

static int nonblocking(int fd)
{
    const int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Loopback only: the one address this proxy ever connects to. */
static int connect_upstream(int port)
{
    const int fd = qkt_loopback_connect(port);
    if (fd < 0)
        return -1;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nonblocking(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what is there into b: 1 with data or nothing yet, 0 at end of stream or on error. */
static int read_into(int fd, buf *b)
{
    char chunk[16384];
    for (;;) {
        const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            buf_add(b, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return 0;
    }
}

/* Writes what it can of b: 1, or 0 when the peer is gone. */
static int write_from(int fd, buf *b)
{
    while (b->len > 0) {
        const ssize_t n = send(fd, b->p, b->len, MSG_NOSIGNAL);
        if (n > 0) {
            buf_drop(b, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return 0;
    }
    return 1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* ---- connections ---- */

static void cut_client(conn *c)
{
    close_fd(&c->cfd);
    c->cin.len = 0;
    c->cout.len = 0;
    queue_clear(&c->to_client);
}

static void owe(conn *c, reply_action a, int delay_ms)
{
    c->owed = grow(c->owed, &c->owed_cap, c->owed_n + 1, sizeof *c->owed);
    c->owed[c->owed_n++] = (owed){a, delay_ms};
}

/* Frames the client's requests and schedules each by its fate. */
static void take_requests(qkp_proxy *p, conn *c, int64_t now)
{
    while (c->cfd >= 0 && c->cin.len > 0) {
        const long n = qkp_resp_frame(c->cin.p, c->cin.len);
        if (n == 0)
            return;
        if (n < 0) {
            cut_client(c);
            return;
        }
        const decision d = decide(p, c);
        c->requests++;
        p->stats.requests++;
        p->stats.fates[d.fate]++;
        if (d.fate == QKP_CUT_BEFORE) {
            cut_client(c);
            return;
        }
        item it = {malloc((size_t)n), (size_t)n, now, -1};
        if (it.bytes == NULL)
            abort();
        memcpy(it.bytes, c->cin.p, (size_t)n);
        buf_drop(&c->cin, (size_t)n);
        if (d.fate == QKP_DELAY)
            it.due = now + d.delay_ms;
        if (d.fate == QKP_DUPLICATE)
            it.dup_delay_ms = d.delay_ms;
        queue_push(&c->to_server, it);
        owe(c,
            d.fate == QKP_DROP_REPLY  ? REPLY_SWALLOW
            : d.fate == QKP_CUT_AFTER ? REPLY_SWALLOW_CUT
                                      : REPLY_DELIVER,
            d.fate == QKP_SLOW_REPLY ? d.delay_ms : 0);
    }
}

static void add_side(qkp_proxy *p, const item *it, int64_t due)
{
    side *s = calloc(1, sizeof *s);
    if (s == NULL)
        abort();
    s->fd = -1;
    s->due = due;
    buf_add(&s->out, it->bytes, it->len);
    p->sides = grow(p->sides, &p->cap_sides, p->n_sides + 1, sizeof *p->sides);
    p->sides[p->n_sides++] = s;
}

/* Requests whose time has come go to the server, in order. */
static void release_requests(qkp_proxy *p, conn *c, int64_t now)
{
    item *it;
    while ((it = queue_front(&c->to_server)) != NULL && it->due <= now) {
        buf_add(&c->sout, it->bytes, it->len);
        if (it->dup_delay_ms >= 0)
            add_side(p, it, now + it->dup_delay_ms);
        free(it->bytes);
        c->to_server.head++;
    }
}

/* Frames the server's replies and does with each what its request's fate says. */
static void take_replies(qkp_proxy *p, conn *c, int64_t now)
{
    while (c->sin.len > 0) {
        const long n = qkp_resp_frame(c->sin.p, c->sin.len);
        if (n == 0)
            return;
        if (n < 0 || c->owed_head == c->owed_n) { /* not RESP, or a reply nobody asked for */
            cut_client(c);
            close_fd(&c->sfd);
            return;
        }
        const owed o = c->owed[c->owed_head++];
        p->stats.replies++;
        if (o.action == REPLY_DELIVER && c->cfd >= 0) {
            int64_t due = now + o.delay_ms;
            if (due < c->last_reply_due)
                due = c->last_reply_due; /* replies keep their order */
            c->last_reply_due = due;
            item it = {malloc((size_t)n), (size_t)n, due, -1};
            if (it.bytes == NULL)
                abort();
            memcpy(it.bytes, c->sin.p, (size_t)n);
            queue_push(&c->to_client, it);
        } else if (o.action == REPLY_SWALLOW_CUT) {
            cut_client(c);
        }
        buf_drop(&c->sin, (size_t)n);
    }
}

static void release_replies(conn *c, int64_t now)
{
    item *it;
    while ((it = queue_front(&c->to_client)) != NULL && it->due <= now) {
        buf_add(&c->cout, it->bytes, it->len);
        free(it->bytes);
        c->to_client.head++;
    }
}

static bool conn_busy(const conn *c)
{
    return c->to_server.head < c->to_server.n || c->sout.len > 0 || c->owed_head < c->owed_n;
}

/* Whether the connection is over: the server gone, or the client gone with nothing left
 * for the server to hear or answer. */
static bool conn_done(const conn *c)
{
    return c->sfd < 0 || (c->cfd < 0 && !conn_busy(c));
}

static void conn_free(conn *c)
{
    close_fd(&c->cfd);
    close_fd(&c->sfd);
    free(c->cin.p);
    free(c->sin.p);
    free(c->cout.p);
    free(c->sout.p);
    queue_clear(&c->to_server);
    queue_clear(&c->to_client);
    free(c->owed);
    free(c);
}

static void side_free(side *s)
{
    close_fd(&s->fd);
    free(s->out.p);
    free(s->in.p);
    free(s);
}

/* ---- the proxy ---- */

int qkp_open(qkp_proxy **out, const qkp_config *cfg, char *err, size_t errlen)
{
    qkp_proxy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return fail(err, errlen, "no memory");
    p->cfg = *cfg;
    p->lfd = qkt_loopback_listen(64, &p->port);
    if (p->lfd < 0 || nonblocking(p->lfd) != 0) {
        const int e = errno;
        if (p->lfd >= 0)
            close(p->lfd);
        free(p);
        return fail(err, errlen, "listening on 127.0.0.1: %s", strerror(e));
    }
    *out = p;
    return 0;
}

int qkp_port(const qkp_proxy *p)
{
    return p->port;
}

void qkp_calm(qkp_proxy *p)
{
    p->calm = true;
}

static void accept_all(qkp_proxy *p)
{
    for (;;) {
        const int cfd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        const int sfd = connect_upstream(p->cfg.upstream_port);
        if (sfd < 0) { /* the server is down: so is the proxy, for this client */
            close(cfd);
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        if (c == NULL)
            abort();
        c->number = p->stats.connections++;
        c->cfd = cfd;
        c->sfd = sfd;
        const int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        p->conns = grow(p->conns, &p->cap_conns, p->n_conns + 1, sizeof *p->conns);
        p->conns[p->n_conns++] = c;
    }
}

static int64_t earliest_due(const qkp_proxy *p, int64_t now, int timeout_ms)
{
    int64_t until = now + timeout_ms;
    for (size_t i = 0; i < p->n_conns; i++) {
        const conn *c = p->conns[i];
        if (c->to_server.head < c->to_server.n && c->to_server.v[c->to_server.head].due < until)
            until = c->to_server.v[c->to_server.head].due;
        if (c->to_client.head < c->to_client.n && c->to_client.v[c->to_client.head].due < until)
            until = c->to_client.v[c->to_client.head].due;
    }
    for (size_t i = 0; i < p->n_sides; i++)
        if (p->sides[i]->fd < 0 && p->sides[i]->due < until)
            until = p->sides[i]->due;
    return until;
}

int qkp_step(qkp_proxy *p, int timeout_ms, char *err, size_t errlen)
{
    int64_t now = now_ms();
    const int64_t until = earliest_due(p, now, timeout_ms);
    const size_t n_fds = 1 + 2 * p->n_conns + p->n_sides;
    struct pollfd *fds = calloc(n_fds, sizeof *fds);
    if (fds == NULL)
        return fail(err, errlen, "no memory");
    fds[0] = (struct pollfd){p->lfd, POLLIN, 0};
    for (size_t i = 0; i < p->n_conns; i++) {
        const conn *c = p->conns[i];
        fds[1 + 2 * i] =
            (struct pollfd){c->cfd, (short)(POLLIN | (c->cout.len > 0 ? POLLOUT : 0)), 0};
        fds[2 + 2 * i] =
            (struct pollfd){c->sfd, (short)(POLLIN | (c->sout.len > 0 ? POLLOUT : 0)), 0};
    }
    for (size_t i = 0; i < p->n_sides; i++) {
        const side *s = p->sides[i];
        fds[1 + 2 * p->n_conns + i] =
            (struct pollfd){s->fd, (short)(POLLIN | (s->out.len > 0 ? POLLOUT : 0)), 0};
    }
    const int wait = until > now ? (int)(until - now) : 0;
    if (poll(fds, (nfds_t)n_fds, wait) < 0 && errno != EINTR) {
        const int e = errno;
        free(fds);
        return fail(err, errlen, "poll: %s", strerror(e));
    }
    now = now_ms();
    const size_t n_conns = p->n_conns, n_sides = p->n_sides;
    for (size_t i = 0; i < n_conns; i++) {
        conn *c = p->conns[i];
        const short cre = fds[1 + 2 * i].revents, sre = fds[2 + 2 * i].revents;
        if (c->cfd >= 0 && (cre & (POLLIN | POLLHUP | POLLERR)) && !read_into(c->cfd, &c->cin)) {
            take_requests(p, c, now); /* what came before the end still counts */
            cut_client(c);
        }
        take_requests(p, c, now);
        release_requests(p, c, now);
        if (c->sfd >= 0 && (sre & (POLLIN | POLLHUP | POLLERR))) {
            const int open = read_into(c->sfd, &c->sin);
            take_replies(p, c, now);
            if (!open) { /* the server hung up: so does the client's line */
                close_fd(&c->sfd);
                cut_client(c);
            }
        }
        if (c->sfd >= 0 && c->sout.len > 0 && !write_from(c->sfd, &c->sout)) {
            close_fd(&c->sfd);
            cut_client(c);
        }
        release_replies(c, now);
        if (c->cfd >= 0 && c->cout.len > 0 && !write_from(c->cfd, &c->cout))
            cut_client(c);
    }
    for (size_t i = 0; i < n_sides; i++) {
        side *s = p->sides[i];
        if (s->fd < 0 && s->due <= now && (s->fd = connect_upstream(p->cfg.upstream_port)) < 0) {
            s->out.len = 0; /* the server is down: the copy is lost, as on a real network */
            continue;
        }
        if (s->fd < 0)
            continue;
        if (s->out.len > 0 && !write_from(s->fd, &s->out)) {
            close_fd(&s->fd);
            s->out.len = 0;
            continue;
        }
        if (fds[1 + 2 * n_conns + i].revents & (POLLIN | POLLHUP | POLLERR)) {
            const int open = read_into(s->fd, &s->in);
            const long n = qkp_resp_frame(s->in.p, s->in.len);
            if (n > 0)
                p->stats.duplicates_landed++;
            if (n != 0 || !open) {
                close_fd(&s->fd);
                s->out.len = 0;
                s->due = -1; /* done */
            }
        }
    }
    const bool incoming = fds[0].revents & POLLIN;
    free(fds);
    if (incoming)
        accept_all(p);
    /* Drop what is over. */
    size_t k = 0;
    for (size_t i = 0; i < p->n_conns; i++) {
        if (conn_done(p->conns[i]))
            conn_free(p->conns[i]);
        else
            p->conns[k++] = p->conns[i];
    }
    p->n_conns = k;
    k = 0;
    for (size_t i = 0; i < p->n_sides; i++) {
        side *s = p->sides[i];
        if (s->fd < 0 && (s->due < 0 || s->out.len == 0))
            side_free(s);
        else
            p->sides[k++] = s;
    }
    p->n_sides = k;
    return 0;
}

bool qkp_idle(const qkp_proxy *p)
{
    if (p->n_sides > 0)
        return false;
    for (size_t i = 0; i < p->n_conns; i++)
        if (conn_busy(p->conns[i]) || p->conns[i]->to_client.head < p->conns[i]->to_client.n)
            return false;
    return true;
}

void qkp_get_stats(const qkp_proxy *p, qkp_stats *out)
{
    *out = p->stats;
}

void qkp_close(qkp_proxy *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_conns; i++)
        conn_free(p->conns[i]);
    for (size_t i = 0; i < p->n_sides; i++)
        side_free(p->sides[i]);
    free(p->conns);
    free(p->sides);
    close(p->lfd);
    free(p);
}
