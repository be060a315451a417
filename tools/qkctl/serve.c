/* serve: /metrics over HTTP for a Prometheus scraper (libmicrohttpd), from one read-only
 * tracker opened at start: each scrape is a fresh cut, so a writer's counts show at once.
 *
 * The metrics name every service and its usage and the server has no authentication, so it
 * listens on loopback unless --allow-remote says otherwise. SIGINT and SIGTERM are blocked
 * before the server's thread starts (it inherits the mask) and taken with sigwait by the main
 * thread, which then stops the server and closes the file.
 *
 * One client must not starve the scrapes (docs/qkctl.md, "serve"): the server polls with epoll
 * (MHD_USE_AUTO), not select, whose FD_SETSIZE of 1024 descriptors a client holding that many
 * connections used up, so that every new one was closed at once; and it bounds connections per
 * client address, in all, and the time a connection may sit idle. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cut.h"
#include "esc.h"
#include "metrics.h"
#include "open.h"
#include "qkctl.h"

/* The bounds, documented in docs/qkctl.md. A scraper uses one connection at a time (Prometheus
 * keeps one alive per target), so 8 per address leaves room for a few scrapers behind one
 * proxy; 256 in all bounds the descriptors and memory (32 KB each, MHD's default) a crowd of
 * clients can take; 5 s idle is far more than a scrape's request needs to arrive, and a
 * connection kept alive between scrapes is simply opened again. */
enum {
    SERVE_PER_CLIENT = 8,
    SERVE_CONNECTIONS = 256,
    SERVE_IDLE_S = 5,
};

/* libmicrohttpd's messages, on stderr as "qkctl: serve: ...", escaped. A client held off by the
 * bounds above makes one message per refused connection, thousands a second: a message the same
 * as the last is printed at most once every LOG_EVERY_S seconds, with how many were left out. */
#define LOG_EVERY_S 10

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static char last[256];
    static time_t last_at;
    static unsigned long held;
    char text[sizeof last];
    vsnprintf(text, sizeof text, fmt, ap);
    const size_t len = strlen(text);
    if (len > 0 && text[len - 1] == '\n')
        text[len - 1] = '\0';
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&mu);
    if (strcmp(text, last) == 0 && now.tv_sec - last_at < LOG_EVERY_S) {
        held++;
    } else {
        fputs("qkctl: serve: ", stderr);
        qkctl_fputs_esc(text, stderr);
        if (held > 0 && strcmp(text, last) == 0)
            fprintf(stderr, " (and %lu more in the last %d s)", held, LOG_EVERY_S);
        fputc('\n', stderr);
        memcpy(last, text, sizeof last);
        last_at = now.tv_sec;
        held = 0;
    }
    pthread_mutex_unlock(&mu);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    const enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
                 MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **state)
{
    (void)version, (void)upload_data, (void)upload_size, (void)state;
    qk_tracker *t = cls;
    if (strcmp(url, "/metrics") != 0)
        return plain(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");

    qkctl_cut c;
    if (qkctl_cut_take(t, &c) != QK_OK) {
        char *msg = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&msg, &len);
        if (f == NULL)
            return MHD_NO;
        fputs("cannot read the state file: ", f); /* curl may print it to a terminal */
        qkctl_fputs_esc(c.msg, f);
        fputc('\n', f);
        fclose(f);
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", msg, len,
                     MHD_RESPMEM_MUST_FREE);
    }
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (f == NULL) {
        qkctl_cut_free(&c);
        return MHD_NO;
    }
    qkctl_metrics_write(f, &c);
    qkctl_cut_free(&c);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return reply(conn, MHD_HTTP_OK, QKCTL_METRICS_CONTENT_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

int qkctl_cmd_serve(const qkctl_target *tg, int argc, char **argv)
{
    const char *listen = NULL;
    bool allow_remote = false;
    const qkctl_opt opts[] = {{"--listen", NULL, &listen}, {"--allow-remote", &allow_remote, NULL}};
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, opts, 2, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    if (n_pos != 0)
        return qkctl_usage_error("serve takes no arguments besides its options, got '%s'", pos[0]);
    if (listen == NULL)
        return qkctl_usage_error("serve needs --listen ADDRESS:PORT, like 127.0.0.1:9464");
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool loopback;
    if (qkctl_parse_listen(listen, &addr, &addr_len, &loopback) != 0)
        return QKCTL_USAGE;
    if (!loopback && !allow_remote)
        return qkctl_usage_error("--listen %s is not a loopback address: the metrics are served "
                                 "without authentication, so add --allow-remote to mean it",
                                 listen);

    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);

    qkctl_tracker tk;
    if (qkctl_open(tg, true, &tk) != QK_OK) {
        qkctl_error("%s", tk.msg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return QKCTL_ERROR;
    }
    const unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                           (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* The logger first: options before it would log through MHD's own. */
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, tk.t, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
        MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SERVE_PER_CLIENT,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)SERVE_IDLE_S, MHD_OPTION_END);
    if (d == NULL) {
        qkctl_error("cannot listen on %s (in use, or not an address of this host?)", listen);
        qkctl_close(&tk);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return QKCTL_ERROR;
    }
    /* The port actually bound: --listen 127.0.0.1:0 takes any free one, and this line says
     * which. */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET6_ADDRSTRLEN] = "?";
    if (addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, host, sizeof host);
    printf("serving http://%s%s%s:%u/metrics from ", addr.ss_family == AF_INET6 ? "[" : "", host,
           addr.ss_family == AF_INET6 ? "]" : "", info != NULL ? (unsigned)info->port : 0u);
    qkctl_fputs_esc(tk.path, stdout);
    printf(" (Ctrl-C to stop)\n");
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    qkctl_close(&tk);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    printf("stopped on %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return QKCTL_OK;
}
