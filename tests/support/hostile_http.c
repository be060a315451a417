#include "hostile_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loopback.h"

#define MAX_CONNS  32
#define LIFETIME_S 20
#define PACE_MS    20                  /* drip and slow headers: one byte this often */
#define IN_MAX     (64 * 1024)         /* a request longer than this closes its connection */
#define OUT_MAX    (4 * 1024 * 1024)   /* a relayed answer longer than this is not relayed */
#define IO_MS      5000                /* relaying: each upstream or client wait at most */
#define HUGE_LEN   INT64_C(1000000000) /* what HUGE_BODY announces */
#define CHUNK      16384               /* ENDLESS_CHUNKED's chunk size (hex 4000) */

typedef struct {
    int fd;
    char in[IN_MAX]; /* the request being read */
    size_t in_len;
    int answering; /* a hostile answer under way: what comes in is read and dropped */
    int mode;
    char head[512]; /* the hostile answer's status line and headers */
    size_t head_len;
    int64_t at; /* bytes of the answer sent */
    int64_t next_ms;
} conn;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void http_date(char *buf, size_t len, int64_t t_s)
{
    const time_t t = (time_t)t_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The length of the whole request at the start of buf (head and Content-Length body) once it
 * is all there, else 0. */
static size_t request_len(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t body = 0;
    for (const char *p = buf; p < end;) {
        if (strncasecmp(p, "content-length:", 15) == 0)
            body = strtoul(p + 15, NULL, 10);
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL)
            break;
        p = eol + 2;
    }
    const size_t want = (size_t)(end + 4 - buf) + body;
    return len >= want ? want : 0;
}

static void start_answer(conn *c, int mode)
{
    char date[64];
    http_date(date, sizeof date, (int64_t)time(NULL));
    const char *framing = "Content-Length: 100\r\n";
    if (mode == QKT_HTTP_ENDLESS_CHUNKED)
        framing = "Transfer-Encoding: chunked\r\n";
    else if (mode == QKT_HTTP_HUGE_BODY)
        framing = "Content-Length: 1000000000\r\n";
    else if (mode == QKT_HTTP_SLOW_HEADERS)
        framing = "Content-Length: 2\r\n";
    c->head_len =
        (size_t)snprintf(c->head, sizeof c->head,
                         "HTTP/1.1 200 OK\r\nDate: %s\r\nx-amzn-RequestId: qkt-hostile\r\n"
                         "Content-Type: application/x-amz-json-1.0\r\n%s\r\n",
                         date, framing);
    c->answering = 1;
    c->mode = mode;
    c->at = 0;
    c->next_ms = mono_ms();
}

/* The next contiguous piece of c's answer: *p and its length (0: nothing more to send). */
static size_t next_piece(const conn *c, const char **p)
{
    static char period[6 + CHUNK + 2]; /* one chunk of ENDLESS_CHUNKED */
    static char filler[CHUNK];
    static const char drip_body[] = "                                                  "
                                    "                                                {}";
    if (period[0] == '\0') { /* the first answer fills them: only the server thread calls */
        memcpy(period, "4000\r\n", 6);
        memset(period + 6, 'a', CHUNK);
        memcpy(period + 6 + CHUNK, "\r\n", 2);
        memset(filler, 'a', sizeof filler);
    }
    const int64_t head = (int64_t)c->head_len;
    if (c->at < head) {
        *p = c->head + c->at;
        return (size_t)(head - c->at);
    }
    const int64_t b = c->at - head; /* offset in the body */
    switch (c->mode) {
    case QKT_HTTP_DRIP:
        if (b >= (int64_t)sizeof drip_body - 1)
            return 0;
        *p = drip_body + b;
        return sizeof drip_body - 1 - (size_t)b;
    case QKT_HTTP_SLOW_HEADERS:
        if (b >= 2)
            return 0;
        *p = "{}" + b;
        return (size_t)(2 - b);
    case QKT_HTTP_ENDLESS_CHUNKED: {
        const size_t in = (size_t)(b % (int64_t)sizeof period);
        *p = period + in;
        return sizeof period - in;
    }
    case QKT_HTTP_HUGE_BODY: {
        if (b >= HUGE_LEN)
            return 0;
        *p = filler;
        return HUGE_LEN - b < (int64_t)sizeof filler ? (size_t)(HUGE_LEN - b) : sizeof filler;
    }
    default:
        return 0;
    }
}

/* Whether c's next byte is one of those sent a byte every PACE_MS. */
static int paced(const conn *c)
{
    return c->mode == QKT_HTTP_SLOW_HEADERS ||
           (c->mode == QKT_HTTP_DRIP && c->at >= (int64_t)c->head_len);
}

/* Sends what c's mode allows now. -1 when the client is gone. */
static int feed(conn *c)
{
    if (c->mode == QKT_HTTP_SILENT)
        return 0;
    if (paced(c)) {
        const int64_t now = mono_ms();
        if (now < c->next_ms)
            return 0;
        c->next_ms = now + PACE_MS;
    }
    /* As fast as the client reads: until its socket buffer is full (a bounded number of sends
     * per turn, so the other connections get theirs), or one byte when paced. */
    for (int turn = 0; turn < 64; turn++) {
        const int slow = paced(c);
        if (slow && turn > 0)
            return 0; /* drip: the head went at once, the body's first byte comes next turn */
        const char *p = NULL;
        size_t n = next_piece(c, &p);
        if (n == 0)
            return 0;
        const ssize_t sent = send(c->fd, p, slow ? 1 : n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->at += sent;
        if (slow)
            return 0;
    }
    return 0;
}

/* Waits until fd is ready for events, at most IO_MS. */
static int wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, IO_MS) == 1 ? 0 : -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        if (wait_fd(fd, POLLOUT) != 0)
            return -1;
        const ssize_t sent = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (sent > 0) {
            p += sent;
            n -= (size_t)sent;
        }
    }
    return 0;
}

/* Whether the answer in buf[0..len) is whole: its head, then Content-Length bytes, or a chunked
 * body's last chunk; without either it ends when the upstream closes (*until_eof). */
static int answer_whole(const char *buf, size_t len, int *until_eof)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    const size_t head = (size_t)(end + 4 - buf);
    long body = -1;
    int chunked = 0;
    for (const char *p = buf; p < end;) {
        if (strncasecmp(p, "content-length:", 15) == 0)
            body = strtol(p + 15, NULL, 10);
        if (strncasecmp(p, "transfer-encoding:", 18) == 0 && strstr(p, "chunked") != NULL &&
            strstr(p, "chunked") < end)
            chunked = 1;
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL)
            break;
        p = eol + 2;
    }
    if (chunked)
        return len >= head + 5 && memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0;
    if (body >= 0)
        return len >= head + (size_t)body;
    *until_eof = 1;
    return 0;
}

/* The Date header of the answer in *buf (len bytes) replaced by date_s's; the buffer may be
 * reallocated. Returns the new length. */
static size_t rewrite_date(char **buf, size_t len, int64_t date_s)
{
    char line[96];
    char date[64];
    http_date(date, sizeof date, date_s);
    const int n = snprintf(line, sizeof line, "\r\nDate: %s", date);
    const char *end = memmem(*buf, len, "\r\n\r\n", 4);
    size_t from = 0, to = 0; /* the bytes replaced: "\r\nDate: ..." up to its line's end */
    for (const char *p = memmem(*buf, len, "\r\n", 2); p != NULL && p < end;
         p = memmem(p + 2, len - (size_t)(p + 2 - *buf), "\r\n", 2))
        if (strncasecmp(p + 2, "date:", 5) == 0) {
            from = (size_t)(p - *buf);
            to = (size_t)((const char *)memmem(p + 2, len - from - 2, "\r\n", 2) - *buf);
            break;
        }
    if (to == 0) /* no Date header: one goes after the status line */
        from = to = (size_t)((const char *)memmem(*buf, len, "\r\n", 2) - *buf);
    char *out = malloc(len - (to - from) + (size_t)n);
    if (out == NULL)
        return len;
    memcpy(out, *buf, from);
    memcpy(out + from, line, (size_t)n);
    memcpy(out + from + (size_t)n, *buf + to, len - to);
    free(*buf);
    *buf = out;
    return len - (to - from) + (size_t)n;
}

/* A correct answer: the request relayed to the upstream on a connection of its own, its answer
 * read whole and sent back (with its Date rewritten when asked). -1: the client's connection is
 * to be closed. */
static int relay(qkt_hostile_http *h, conn *c, size_t req_len)
{
    const int up = h->upstream_port > 0 ? qkt_loopback_connect(h->upstream_port) : -1;
    if (up < 0)
        return -1;
    const struct timeval tv = {IO_MS / 1000, 0};
    setsockopt(up, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(up, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char *buf = NULL;
    size_t len = 0;
    int rc = -1, until_eof = 0;
    if (send_all(up, c->in, req_len) != 0 || (buf = malloc(OUT_MAX)) == NULL)
        goto out;
    for (;;) {
        if (answer_whole(buf, len, &until_eof))
            break;
        if (len == OUT_MAX)
            goto out;
        const ssize_t r = recv(up, buf + len, OUT_MAX - len, 0);
        if (r == 0 && until_eof)
            break;
        if (r <= 0)
            goto out;
        len += (size_t)r;
    }
    const int64_t date_s = atomic_load(&h->date_s);
    if (date_s != 0) {
        len = rewrite_date(&buf, len, date_s);
        atomic_fetch_add(&h->dates_rewritten, 1);
    }
    rc = send_all(c->fd, buf, len);
out:
    free(buf);
    close(up);
    return rc;
}

/* Reads what came on c; answers a request read whole. -1 when the connection is to be closed. */
static int on_input(qkt_hostile_http *h, conn *c)
{
    char drop[4096];
    char *to = c->answering ? drop : c->in + c->in_len;
    const size_t room = c->answering ? sizeof drop : sizeof c->in - c->in_len;
    if (room == 0)
        return -1; /* a request longer than any DynamoDB call */
    const ssize_t r = recv(c->fd, to, room, MSG_DONTWAIT);
    if (r == 0)
        return -1; /* the client left */
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (c->answering)
        return 0;
    c->in_len += (size_t)r;
    /* Keep-alive: a forwarded request may be followed by the next on the same connection. */
    for (size_t want; !c->answering && (want = request_len(c->in, c->in_len)) != 0;) {
        atomic_fetch_add(&h->requests, 1);
        const int mode = atomic_load(&h->mode);
        if (mode != QKT_HTTP_FORWARD) {
            start_answer(c, mode);
            return 0;
        }
        if (relay(h, c, want) != 0)
            return -1;
        memmove(c->in, c->in + want, c->in_len - want);
        c->in_len -= want;
    }
    return 0;
}

static void *serve(void *arg)
{
    qkt_hostile_http *h = arg;
    conn *conns = calloc(MAX_CONNS, sizeof *conns);
    struct pollfd fds[1 + MAX_CONNS];
    nfds_t n = 0; /* connections */
    const time_t end = time(NULL) + LIFETIME_S;
    while (conns != NULL && !atomic_load(&h->stop) && time(NULL) < end) {
        fds[0] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
        for (nfds_t i = 0; i < n; i++) {
            const int fast =
                conns[i].answering && conns[i].mode != QKT_HTTP_SILENT &&
                conns[i].mode != QKT_HTTP_SLOW_HEADERS &&
                !(conns[i].mode == QKT_HTTP_DRIP && conns[i].at >= (int64_t)conns[i].head_len);
            fds[1 + i] = (struct pollfd){.fd = conns[i].fd,
                                         .events = (short)(POLLIN | (fast ? POLLOUT : 0))};
        }
        poll(fds, 1 + n, PACE_MS);
        if ((fds[0].revents & POLLIN) && n < MAX_CONNS) {
            const int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                memset(&conns[n], 0, sizeof conns[n]);
                conns[n].fd = fd;
                fds[1 + n] = (struct pollfd){.fd = fd};
                n++;
            }
        }
        for (nfds_t i = 0; i < n; i++) {
            conn *c = &conns[i];
            int gone = (fds[1 + i].revents & (POLLERR | POLLNVAL)) != 0;
            if (!gone && (fds[1 + i].revents & (POLLIN | POLLHUP)))
                gone = on_input(h, c) != 0;
            if (!gone && c->answering)
                gone = feed(c) != 0;
            if (gone) {
                close(c->fd);
                n--;
                if (i != n) {
                    memcpy(c, &conns[n], sizeof *c);
                    fds[1 + i] = fds[1 + n];
                }
                i--;
            }
        }
    }
    for (nfds_t i = 0; i < n; i++)
        close(conns[i].fd);
    free(conns);
    return NULL;
}

int qkt_hostile_http_start(qkt_hostile_http *h, qkt_http_mode mode, int upstream_port)
{
    memset(h, 0, sizeof *h);
    atomic_init(&h->mode, (int)mode);
    atomic_init(&h->date_s, 0);
    atomic_init(&h->requests, 0);
    atomic_init(&h->dates_rewritten, 0);
    atomic_init(&h->stop, 0);
    h->upstream_port = upstream_port;
    if ((h->listen_fd = qkt_loopback_listen(16, &h->port)) < 0)
        return -1;
    if (pthread_create(&h->thread, NULL, serve, h) != 0) {
        close(h->listen_fd);
        return -1;
    }
    return 0;
}

void qkt_hostile_http_set(qkt_hostile_http *h, qkt_http_mode mode, int64_t date_s)
{
    atomic_store(&h->date_s, date_s);
    atomic_store(&h->mode, (int)mode);
}

void qkt_hostile_http_stop(qkt_hostile_http *h)
{
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->listen_fd);
}
