#include "fakehttp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *fakehttp_ok(const char *json)
{
    static __thread char buf[8192];
    char date[64];
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(buf, sizeof buf,
             "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: application/x-amz-json-1.0\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             date, strlen(json), json);
    return buf;
}

/* Reads one request into a malloc'd buffer: 0 at EOF before any byte, -1 on error, else 1. */
static int read_request(int fd, char **out, size_t *out_len)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    size_t want = 0; /* the whole request's length, once the head is in */
    for (;;) {
        if (want != 0 && len >= want)
            break;
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        const ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0) {
            free(buf);
            return len == 0 && n == 0 ? 0 : -1;
        }
        len += (size_t)n;
        buf[len] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        if (want == 0 && end != NULL) {
            size_t body = 0;
            for (const char *p = buf; p < end; p = strstr(p, "\r\n") + 2)
                if (strncasecmp(p, "content-length:", 15) == 0)
                    body = strtoul(p + 15, NULL, 10);
            want = (size_t)(end + 4 - buf) + body;
        }
    }
    *out = buf;
    *out_len = len;
    return 1;
}

static void *serve(void *arg)
{
    fakehttp *f = arg;
    for (;;) {
        const int fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        for (;;) {
            char *req = NULL;
            size_t len = 0;
            if (read_request(fd, &req, &len) <= 0)
                break;
            char op[64] = "";
            const char *t = strcasestr(req, "\r\nx-amz-target: DynamoDB_20120810.");
            if (t != NULL)
                sscanf(t + 34, "%63[A-Za-z]", op);
            pthread_mutex_lock(&f->mu);
            const unsigned i = f->n;
            if (f->n < FAKEHTTP_MAX_REQUESTS) {
                f->raw[f->n] = req;
                f->raw_len[f->n++] = len;
                req = NULL;
            }
            pthread_mutex_unlock(&f->mu);
            free(req);
            int close_after = 0;
            const char *answer = f->respond(i, op, &close_after, f->ctx);
            if (answer != NULL && write(fd, answer, strlen(answer)) < 0)
                break;
            if (answer == NULL || close_after)
                break;
        }
        close(fd);
    }
}

int fakehttp_start(fakehttp *f, fakehttp_fn respond, void *ctx)
{
    memset(f, 0, sizeof *f);
    f->respond = respond;
    f->ctx = ctx;
    pthread_mutex_init(&f->mu, NULL);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(f->listen_fd, 8) != 0 || getsockname(f->listen_fd, (struct sockaddr *)&a, &alen))
        return -1;
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->thread, NULL, serve, f) == 0 ? 0 : -1;
}

void fakehttp_stop(fakehttp *f)
{
    shutdown(f->listen_fd, SHUT_RDWR);
    close(f->listen_fd);
    pthread_join(f->thread, NULL);
    for (unsigned i = 0; i < f->n; i++)
        free(f->raw[i]);
    pthread_mutex_destroy(&f->mu);
}
