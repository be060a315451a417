#include "hostile_resp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS  32
#define LIFETIME_S 20

static int send_some(int fd, const char *p, size_t n)
{
    return send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN ? -1 : 0;
}

/* What one connection is sent next, by mode; drip keeps its place in the reply. */
static int feed(const qkt_hostile_resp *h, int fd, size_t *at)
{
    /* A bulk string of 100 bytes: about 2 s at a byte every 20 ms, each byte well inside any
     * read timeout, the whole far past any call's. */
    static const char drip[] =
        "$100\r\n"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    static char filler[16384];
    switch (h->mode) {
    case QKT_RESP_DRIP: {
        const int rc = send_some(fd, &drip[*at % (sizeof drip - 1)], 1);
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

int qkt_hostile_resp_start(qkt_hostile_resp *h, qkt_resp_mode mode)
{
    memset(h, 0, sizeof *h);
    h->mode = mode;
    h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->listen_fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(h->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(h->listen_fd, 16) != 0 ||
        getsockname(h->listen_fd, (struct sockaddr *)&a, &len) != 0) {
        close(h->listen_fd);
        return -1;
    }
    h->port = ntohs(a.sin_port);
    atomic_init(&h->stop, 0);
    if (pthread_create(&h->thread, NULL, serve, h) != 0) {
        close(h->listen_fd);
        return -1;
    }
    return 0;
}

void qkt_hostile_resp_stop(qkt_hostile_resp *h)
{
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->listen_fd);
}
