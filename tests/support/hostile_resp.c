#include "hostile_resp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loopback.h"

#define MAX_CONNS  32
#define LIFETIME_S 20

static int send_some(int fd, const char *p, size_t n)
{
    return send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN ? -1 : 0;
}

/* What one connection is sent next, by mode; drip keeps its place in the reply. */
static int feed(const qkt_hostile_resp *h, int fd, size_t *at)
{
    /* A bulk string of 500 bytes, "$500\r\n" then 'a's then "\r\n": about 10 s at a byte every
     * 20 ms, each byte well inside any read timeout, the whole far past any call's (qkctl store
     * init's 2 s included: the whole reply must take longer than a timeout of seconds too). */
    enum { DRIP_LEN = 500, DRIP_REPLY = 6 + DRIP_LEN + 2 };
    static char filler[16384];
    switch (h->mode) {
    case QKT_RESP_DRIP: {
        const size_t i = *at % DRIP_REPLY;
        const char byte = i < 6 ? "$500\r\n"[i] : i < 6 + DRIP_LEN ? 'a' : "\r\n"[i - 6 - DRIP_LEN];
        const int rc = send_some(fd, &byte, 1);
        ++*at;
        return rc;
    }
    case QKT_RESP_ENDLESS:
        if ((*at)++ == 0)
            return send_some(fd, "$1000000000\r\n", 13);
        memset(filler, 'a', sizeof filler);
        return send_some(fd, filler, sizeof filler);
    case QKT_RESP_HUGE_ARRAY:
        if ((*at)++ == 0)
            return send_some(fd, "*100000000\r\n", 12);
        for (size_t i = 0; i + 4 <= sizeof filler; i += 4)
            memcpy(&filler[i], ":1\r\n", 4);
        return send_some(fd, filler, sizeof filler);
    case QKT_RESP_SILENT:
    case QKT_RESP_LIE: /* served by serve_relay */
        return 0;
    }
    return 0;
}

static void *serve(void *arg)
{
    qkt_hostile_resp *h = arg;
    struct pollfd fds[1 + MAX_CONNS];
    size_t at[1 + MAX_CONNS] = {0};
    int asked[1 + MAX_CONNS] = {0};
    nfds_t n = 1;
    fds[0] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
    const time_t end = time(NULL) + LIFETIME_S;
    while (!atomic_load(&h->stop) && time(NULL) < end) {
        poll(fds, n, 20);
        if ((fds[0].revents & POLLIN) && n < 1 + MAX_CONNS) {
            const int c = accept(h->listen_fd, NULL, NULL);
            if (c >= 0) {
                fds[n] = (struct pollfd){.fd = c, .events = POLLIN};
                at[n] = 0;
                asked[n] = 0;
                n++;
            }
        }
        for (nfds_t i = 1; i < n; i++) {
            char buf[4096];
            if (fds[i].revents & POLLIN) {
                const ssize_t r = recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
                if (r == 0) { /* the client left */
                    close(fds[i].fd);
                    fds[i--] = fds[--n];
                    continue;
                }
                if (r > 0)
                    asked[i] = 1;
            }
            /* Answer only once asked, so the client is inside a call when the bytes come. */
            if (asked[i] && feed(h, fds[i].fd, &at[i]) != 0) {
                close(fds[i].fd);
                fds[i--] = fds[--n];
            }
        }
    }
    for (nfds_t i = 1; i < n; i++)
        close(fds[i].fd);
    return NULL;
}

/* ---- QKT_RESP_LIE: a relay that rewrites replies ---- */

#define RELAY_BUF   (128 * 1024) /* the largest request (SCRIPT LOAD) is a few kB */
#define RELAY_QUEUE 256          /* commands sent upstream and not answered yet */

enum { KIND_OTHER, KIND_TIME, KIND_SCRIPT };

typedef struct {
    int client, upstream;
    char *req, *rep; /* bytes not yet framed, from the client and from the server */
    size_t req_len, rep_len;
    unsigned char kinds[RELAY_QUEUE]; /* what each reply to come answers, in order */
    unsigned head, tail;
} relay_conn;

/* The integer on the line at b (after its type byte) up to eol. */
static long long line_int(const char *b, const char *eol)
{
    char num[32];
    const size_t n = (size_t)(eol - b - 1);
    if (n == 0 || n >= sizeof num)
        return -2;
    memcpy(num, b + 1, n);
    num[n] = '\0';
    char *end = NULL;
    const long long v = strtoll(num, &end, 10);
    return *end == '\0' ? v : -2;
}

/* The length of the complete RESP value at b[0..n), 0 when more bytes are needed, -1 when the
 * bytes are not RESP. */
static long frame(const char *b, size_t n, int depth)
{
    if (n == 0)
        return 0;
    const char *eol = memmem(b, n, "\r\n", 2);
    if (eol == NULL)
        return n > 64 && b[0] != '+' && b[0] != '-' ? -1 : 0;
    const long line = (long)(eol - b) + 2;
    switch (b[0]) {
    case '+':
    case '-':
    case ':':
        return line;
    case '$': {
        const long long len = line_int(b, eol);
        if (len == -1)
            return line;
        if (len < 0 || len > RELAY_BUF)
            return -1;
        return (size_t)line + (size_t)len + 2 <= n ? line + (long)len + 2 : 0;
    }
    case '*': {
        const long long count = line_int(b, eol);
        if (count == -1)
            return line;
        if (count < 0 || count > RELAY_BUF || depth > 8)
            return -1;
        long at = line;
        for (long long i = 0; i < count; i++) {
            const long f = frame(b + at, n - (size_t)at, depth + 1);
            if (f <= 0)
                return f;
            at += f;
        }
        return at;
    }
    }
    return -1;
}

/* A request's kind, from its command name: *N\r\n$L\r\nNAME\r\n... */
static int request_kind(const char *b, size_t n)
{
    const char *eol = memmem(b, n, "\r\n", 2);
    if (b[0] != '*' || eol == NULL)
        return KIND_OTHER;
    const char *arg = eol + 2;
    const char *eol2 = memmem(arg, n - (size_t)(arg - b), "\r\n", 2);
    if (eol2 == NULL || arg[0] != '$')
        return KIND_OTHER;
    const long long len = line_int(arg, eol2);
    const char *name = eol2 + 2;
    if (len <= 0 || name + len > b + n)
        return KIND_OTHER;
    if (len == 4 && strncasecmp(name, "TIME", 4) == 0)
        return KIND_TIME;
    if ((len == 7 && strncasecmp(name, "EVALSHA", 7) == 0) ||
        (len == 4 && strncasecmp(name, "EVAL", 4) == 0))
        return KIND_SCRIPT;
    return KIND_OTHER;
}

/* Writes all of b by 2 s from now: 0, or -1 (the peer is gone or does not read). */
static int relay_write(int fd, const char *b, size_t n)
{
    const time_t end = time(NULL) + 2;
    for (size_t done = 0; done < n;) {
        const ssize_t w = send(fd, b + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (time(NULL) > end)
            return -1;
        struct pollfd p = {fd, POLLOUT, 0};
        poll(&p, 1, 50);
    }
    return 0;
}

/* The reply of n bytes at b to a command of this kind, as the lies in force say, into out
 * (RELAY_BUF bytes). Its length; b's own bytes, copied, when no lie covers it. */
static size_t rewrite(qkt_hostile_resp *h, int kind, const char *b, size_t n, char *out)
{
    const unsigned lies = atomic_load(&h->lies);
    const char *eol = memmem(b, n, "\r\n", 2);
    const long long count = b[0] == '*' && eol != NULL ? line_int(b, eol) : -1;
    int told = 0;
    size_t len = 0;
    if (kind == KIND_TIME && (lies & QKT_LIE_TIME) && count == 2) {
        /* *2 $L seconds $L microseconds: the seconds moved, the microseconds kept. */
        const char *p = eol + 2;
        const char *e1 = memmem(p, n - (size_t)(p - b), "\r\n", 2);
        const long long sl = e1 != NULL && p[0] == '$' ? line_int(p, e1) : -1;
        const char *secs = e1 + 2;
        if (sl > 0 && sl < 20 && secs + sl + 2 <= b + n) {
            const char *q = secs + sl + 2; /* the second element, passed on as it came */
            char sbuf[24];
            memcpy(sbuf, secs, (size_t)sl);
            sbuf[sl] = '\0';
            char moved[32];
            const int ml = snprintf(moved, sizeof moved, "%lld",
                                    strtoll(sbuf, NULL, 10) + QKT_LIE_AHEAD_MS / 1000);
            len = (size_t)snprintf(out, RELAY_BUF, "*2\r\n$%d\r\n%s\r\n%.*s", ml, moved,
                                   (int)(n - (size_t)(q - b)), q);
            told = 1;
        }
    } else if (kind == KIND_SCRIPT && (lies & (QKT_LIE_TIME | QKT_LIE_NO_USE)) && count > 0) {
        /* The sync script's reply: server time, then per window g_h, x_h, G, U, L, active
         * hosts, all integers (parse_reply in src/store/redis.c). */
        len = (size_t)snprintf(out, RELAY_BUF, "*%lld\r\n", count);
        const char *p = eol + 2;
        for (long long i = 0; i < count; i++) {
            const char *e = memmem(p, n - (size_t)(p - b), "\r\n", 2);
            if (p[0] != ':' || e == NULL)
                goto as_is; /* not the script's shape: passed on untouched */
            long long v = line_int(p, e);
            if (i == 0 && (lies & QKT_LIE_TIME))
                v += QKT_LIE_AHEAD_MS;
            if (i > 0 && (i - 1) % 6 == 3 && (lies & QKT_LIE_NO_USE))
                v = 0;
            len += (size_t)snprintf(out + len, RELAY_BUF - len, ":%lld\r\n", v);
            p = e + 2;
        }
        told = 1;
    }
    if (told) {
        atomic_fetch_add(&h->told, 1);
        return len;
    }
as_is:
    memcpy(out, b, n);
    return n;
}

static void relay_drop(relay_conn *c)
{
    close(c->client);
    if (c->upstream >= 0)
        close(c->upstream);
    free(c->req);
    free(c->rep);
}

/* Reads what fd has into buf; 0, or -1 when it closed, failed or overflowed. */
static int relay_read(int fd, char *buf, size_t *len)
{
    const ssize_t r = recv(fd, buf + *len, RELAY_BUF - *len, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || *len == RELAY_BUF)
        return -1;
    if (r > 0)
        *len += (size_t)r;
    return 0;
}

/* Frames what came from the client (each request forwarded, its kind queued) and from the
 * server (each reply rewritten and passed back): 0, or -1 to drop the connection. */
static int relay_pump(qkt_hostile_resp *h, relay_conn *c, char *out)
{
    for (long f; (f = frame(c->req, c->req_len, 0)) != 0;) {
        if (f < 0 || c->tail - c->head == RELAY_QUEUE)
            return -1;
        c->kinds[c->tail++ % RELAY_QUEUE] = (unsigned char)request_kind(c->req, (size_t)f);
        if (relay_write(c->upstream, c->req, (size_t)f) != 0)
            return -1;
        memmove(c->req, c->req + f, c->req_len - (size_t)f);
        c->req_len -= (size_t)f;
    }
    for (long f; (f = frame(c->rep, c->rep_len, 0)) != 0;) {
        if (f < 0 || c->head == c->tail)
            return -1;
        const int kind = c->kinds[c->head++ % RELAY_QUEUE];
        const size_t n = rewrite(h, kind, c->rep, (size_t)f, out);
        if (relay_write(c->client, out, n) != 0)
            return -1;
        atomic_fetch_add(&h->relayed, 1);
        memmove(c->rep, c->rep + f, c->rep_len - (size_t)f);
        c->rep_len -= (size_t)f;
    }
    return 0;
}

static void *serve_relay(void *arg)
{
    qkt_hostile_resp *h = arg;
    relay_conn conns[MAX_CONNS];
    size_t n = 0;
    char *out = malloc(RELAY_BUF);
    const time_t end = time(NULL) + LIFETIME_S;
    while (out != NULL && !atomic_load(&h->stop) && time(NULL) < end) {
        struct pollfd fds[1 + 2 * MAX_CONNS];
        fds[0] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < n; i++) {
            fds[1 + 2 * i] = (struct pollfd){.fd = conns[i].client, .events = POLLIN};
            fds[2 + 2 * i] = (struct pollfd){.fd = conns[i].upstream, .events = POLLIN};
        }
        poll(fds, 1 + 2 * n, 20);
        for (size_t i = 0; i < n; i++) {
            relay_conn *c = &conns[i];
            int bad = 0;
            if (fds[1 + 2 * i].revents)
                bad |= relay_read(c->client, c->req, &c->req_len);
            if (fds[2 + 2 * i].revents)
                bad |= relay_read(c->upstream, c->rep, &c->rep_len);
            if (bad || relay_pump(h, c, out) != 0) {
                relay_drop(c);
                /* The last one takes this place; its poll results are read at its new index. */
                conns[i] = conns[--n];
                fds[1 + 2 * i] = fds[1 + 2 * n];
                fds[2 + 2 * i] = fds[2 + 2 * n];
                i--;
            }
        }
        if ((fds[0].revents & POLLIN) && n < MAX_CONNS) {
            const int cl = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (cl >= 0) {
                relay_conn *c = &conns[n];
                memset(c, 0, sizeof *c);
                c->client = cl;
                c->upstream = qkt_loopback_connect(h->upstream_port);
                c->req = malloc(RELAY_BUF);
                c->rep = malloc(RELAY_BUF);
                if (c->upstream < 0 || c->req == NULL || c->rep == NULL)
                    relay_drop(c); /* the client sees its connection closed */
                else
                    n++;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        relay_drop(&conns[i]);
    free(out);
    return NULL;
}

static int start(qkt_hostile_resp *h, qkt_resp_mode mode, int upstream_port, unsigned lies)
{
    memset(h, 0, sizeof *h);
    h->mode = mode;
    h->upstream_port = upstream_port;
    atomic_init(&h->lies, lies);
    atomic_init(&h->told, 0);
    atomic_init(&h->relayed, 0);
    if ((h->listen_fd = qkt_loopback_listen(16, &h->port)) < 0)
        return -1;
    atomic_init(&h->stop, 0);
    if (pthread_create(&h->thread, NULL, mode == QKT_RESP_LIE ? serve_relay : serve, h) != 0) {
        close(h->listen_fd);
        return -1;
    }
    return 0;
}

int qkt_hostile_resp_start(qkt_hostile_resp *h, qkt_resp_mode mode)
{
    if (mode == QKT_RESP_LIE) {
        errno = EINVAL; /* a relay needs its upstream: qkt_hostile_resp_relay */
        return -1;
    }
    return start(h, mode, 0, 0);
}

int qkt_hostile_resp_relay(qkt_hostile_resp *h, int upstream_port, unsigned lies)
{
    return start(h, QKT_RESP_LIE, upstream_port, lies);
}

void qkt_hostile_resp_lie(qkt_hostile_resp *h, unsigned lies)
{
    atomic_store(&h->lies, lies);
}

void qkt_hostile_resp_stop(qkt_hostile_resp *h)
{
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->listen_fd);
}
