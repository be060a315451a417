/* The Redis backend: talks to redis-server through hiredis and encodes the lease protocol as one
 * Lua script call per service per sync (docs/store.md has the key layout). Everything the
 * protocol decides is in the script and in lease.c; this file only connects, sends, parses.
 *
 * hiredis 0.14 is sharp (../shared/reference/redis-dynamodb.md): its timeout is per read or
 * write, reconnecting forgets it, a failed context stays failed, and a write to a closed peer
 * raises SIGPIPE. So every command first sets the time left before its deadline, a failed
 * context is thrown away and made anew, and SIGPIPE is blocked in the calling thread around the
 * I/O (and a pending one drained) without touching the process's signal disposition. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "tz.h"
#include "error.h"
#include "store/merge.h"
#include "store/redis.h"
#include "store/store.h"

/* The sync script: src/store/merge.lua (its KEYS, ARGV and reply are described there), made into
 * the string qk__store_merge_lua at build time by cmake/embed_lua.cmake. The script is the fleet
 * merge rule that src/store/merge.c writes in C; tests/store/test_merge_diff.c holds the two to
 * the same answers. A connection runs the script it was opened with: this backend's, or the one
 * a test-only mutant backend gives qk__redis_open (tests/mutation/store_deltas.c). */
#include "qk_merge_lua.h"

struct qk__store_conn {
    redisContext *ctx;
    qk__store_url url;
    const char *script; /* the sync script this connection runs (qk__store_merge_lua) */
    size_t script_len;
    char sha[41];      /* the script's SHA1 once loaded on this connection's server */
    long long replies; /* replies read on ctx: a connection that served before may be stale */
    int closed;        /* the last command found ctx closed before any of its reply */
    int reconnect;     /* ... and unreachable() dropped it: connect again and resend, once */
    int why_rc;        /* why the last command failed: its code and words */
    char why[256];
};

/* By qk_period: 's' and 'w' for the periods of options version 4. */
static const char PERIOD_LETTER[] = {'m', 'h', 'd', 'M', 'f', 's', 'w'};

static int check_url(const qk__store_url *url)
{
    const int unix_socket = strcmp(url->scheme, "redis+unix") == 0;
    if (url->query[0] != '\0')
        return qk__fail(QK_EINVAL, "store URL: redis URLs take no ?query");
    if (unix_socket && (url->host[0] != '\0' || url->path[0] != '/'))
        return qk__fail(QK_EINVAL, "store URL: redis+unix:///path/to/socket has no host and an "
                                   "absolute socket path");
    if (!unix_socket && url->host[0] == '\0')
        return qk__fail(QK_EINVAL, "store URL: redis://host[:port][/db] needs a host");
    if (!unix_socket && url->path[0] != '\0' && strcmp(url->path, "/") != 0) {
        const char *db = url->path + 1;
        char *end = NULL;
        errno = 0;
        const long n = strtol(db, &end, 10);
        if (errno != 0 || *end != '\0' || n < 0 || n > 65535 || end == db)
            return qk__fail(QK_EINVAL, "store URL: the database '%s' is not a number", db);
    }
    return QK_OK;
}

int qk__redis_open(qk__store_conn **out, const qk__store_url *url, const char *script,
                   size_t script_len)
{
    qk__store_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return qk__fail(QK_ENOMEM, "no memory for a store connection");
    c->url = *url;
    c->script = script;
    c->script_len = script_len;
    *out = c;
    return QK_OK;
}

static int open_conn(qk__store_conn **out, const qk__store_url *url)
{
    return qk__redis_open(out, url, qk__store_merge_lua, sizeof qk__store_merge_lua - 1);
}

static void close_conn(qk__store_conn *c)
{
    if (c == NULL)
        return;
    if (c->ctx != NULL)
        redisFree(c->ctx);
    explicit_bzero(&c->url, sizeof c->url); /* the password does not outlive the connection */
    free(c);
}

static struct timeval time_left(int64_t deadline_ms)
{
    int64_t left = deadline_ms - qk__store_now_ms();
    if (left < 1)
        left = 1;
    return (struct timeval){.tv_sec = (time_t)(left / 1000), .tv_usec = (long)(left % 1000) * 1000};
}

/* SIGPIPE from a write to a closed peer goes to the writing thread: block it there for the
 * call, then take back a pending one, so the host program's disposition is never involved. */
typedef struct {
    sigset_t old;
    int was_pending;
} pipe_guard;

static void pipe_block(pipe_guard *g)
{
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

static void pipe_unblock(pipe_guard *g)
{
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    if (!g->was_pending && sigismember(&pending, SIGPIPE)) {
        const struct timespec zero = {0, 0};
        sigtimedwait(&pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Replies are bounded before they are believed or even allocated: the largest real one is a sync
 * of QK__STORE_SYNC_WINDOWS windows (a few hundred bytes), so a reply over REPLY_BYTES_MAX bytes,
 * or one announcing more than REPLY_ELEMENTS_MAX array elements in all, is a broken or hostile
 * server (QK_EIO), refused before hiredis's reader allocates what it announced. */
#define REPLY_BYTES_MAX    (64 * 1024)
#define REPLY_ELEMENTS_MAX 4096

typedef struct {
    redisReplyObjectFunctions *base; /* hiredis's own reply builders */
    long long elements;              /* announced so far in this reply */
    long long refused;               /* the announcement over the cap, 0 if none */
} reply_budget;

static _Thread_local reply_budget *budget_now;

static void *bounded_array(const redisReadTask *task, int n)
{
    reply_budget *b = budget_now;
    if (n > REPLY_ELEMENTS_MAX || b->elements + n > REPLY_ELEMENTS_MAX) {
        b->refused = n;
        return NULL; /* the reader stops with an error, nothing allocated */
    }
    b->elements += n;
    return b->base->createArray(task, n);
}
static void *bounded_string(const redisReadTask *task, char *s, size_t len)
{
    return budget_now->base->createString(task, s, len);
}
static void *bounded_integer(const redisReadTask *task, long long v)
{
    return budget_now->base->createInteger(task, v);
}
static void *bounded_nil(const redisReadTask *task)
{
    return budget_now->base->createNil(task);
}
static void bounded_free(void *reply)
{
    budget_now->base->freeObject(reply);
}
static redisReplyObjectFunctions bounded_fns = {bounded_string, bounded_array, bounded_integer,
                                                bounded_nil, bounded_free};

/* Why the last command failed, for unreachable(): the code and the words. */
static void why(qk__store_conn *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why(qk__store_conn *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->why_rc = rc;
}

/* Waits for fd to be ready for events until deadline_ms: 1 ready, 0 the deadline passed. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        const int64_t left = deadline_ms - qk__store_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, events, 0};
        const int n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 1; /* let the send or recv itself report the error */
    }
}

/* The whole of buf, by deadline_ms. MSG_DONTWAIT per call rather than O_NONBLOCK on the fd, so
 * the context stays usable by hiredis's own blocking calls; MSG_NOSIGNAL: no SIGPIPE. */
static int send_all(qk__store_conn *c, const char *buf, size_t len, int64_t deadline_ms)
{
    for (size_t done = 0; done < len;) {
        const ssize_t n = send(c->ctx->fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (!wait_fd(c->ctx->fd, POLLOUT, deadline_ms)) {
                why(c, QK_EUNAVAIL, "the request could not be sent within the timeout");
                return -1;
            }
        } else {
            c->closed = c->replies > 0;
            why(c, QK_EUNAVAIL, "the server closed the connection (%s)", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* One reply, read by deadline_ms however the server spaces its bytes, and bounded (above). */
static redisReply *read_reply(qk__store_conn *c, int64_t deadline_ms)
{
    redisReader *reader = redisReaderCreate();
    if (reader == NULL) {
        why(c, QK_ENOMEM, "no memory for a reply reader");
        return NULL;
    }
    reply_budget budget = {reader->fn, 0, 0};
    reader->fn = &bounded_fns;
    budget_now = &budget;
    void *reply = NULL;
    size_t got = 0;
    char buf[4096];
    for (;;) {
        if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
            if (budget.refused)
                why(c, QK_EIO, "a reply announcing %lld elements (at most %d in all)",
                    budget.refused, REPLY_ELEMENTS_MAX);
            else
                why(c, QK_EIO, "a malformed reply (%s)", reader->errstr);
            break;
        }
        if (reply != NULL)
            break;
        const ssize_t n = recv(c->ctx->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            if (got > REPLY_BYTES_MAX) {
                why(c, QK_EIO, "a reply over %d bytes", REPLY_BYTES_MAX);
                break;
            }
            if (redisReaderFeed(reader, buf, (size_t)n) != REDIS_OK) {
                why(c, QK_ENOMEM, "no memory for the reply");
                break;
            }
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (!wait_fd(c->ctx->fd, POLLIN, deadline_ms)) {
                why(c, QK_EUNAVAIL, "no whole reply within the timeout (%zu bytes came)", got);
                break;
            }
        } else {
            /* Closed before a byte of the reply: the server went away since the last command
             * (a restart, an idle timeout), and the caller may reconnect and send it again. */
            c->closed = got == 0 && c->replies > 0;
            why(c, QK_EUNAVAIL, "the server closed the connection%s%s",
                got ? " in the middle of a reply" : "", n < 0 ? " (reset)" : "");
            break;
        }
    }
    redisReaderFree(reader); /* may free a partial reply through bounded_free */
    budget_now = NULL;
    if (reply != NULL)
        c->replies++;
    return reply;
}

/* One command and its reply, all of it by deadline_ms (hiredis 0.14's own timeout is per read:
 * a server sending a byte at a time would hold a call for ever). NULL on failure, with c->why
 * set for unreachable(), which drops the context. The formatted command is wiped: it may be an
 * AUTH. */
static redisReply *command(qk__store_conn *c, int64_t deadline_ms, int argc, const char **argv,
                           const size_t *lens)
{
    c->closed = 0;
    c->why[0] = '\0';
    char *cmd = NULL;
    const int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0) {
        why(c, QK_ENOMEM, "no memory for the command");
        return NULL;
    }
    const int sent = send_all(c, cmd, (size_t)len, deadline_ms);
    explicit_bzero(cmd, (size_t)len);
    redisFreeCommand(cmd);
    return sent == 0 ? read_reply(c, deadline_ms) : NULL;
}

/* A failed command: the context is dropped (a failed hiredis context stays failed, and a reply
 * cut off leaves the stream out of step), so the next call connects anew. c->reconnect says the
 * server closed a connection that had served before, with nothing of this reply sent: the caller
 * connects again at once and resends, within the same deadline (every command here is
 * idempotent: the sync script moves cumulative totals). */
static int unreachable(qk__store_conn *c, const char *what)
{
    const char *words = c->why[0] ? c->why : c->ctx ? c->ctx->errstr : "no memory";
    const int rc = qk__fail(c->why[0] ? c->why_rc : QK_EUNAVAIL, "redis %s: %s", what,
                            words[0] ? words : "no answer");
    c->reconnect = c->closed;
    c->closed = 0;
    c->why[0] = '\0';
    if (c->ctx != NULL) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    c->sha[0] = '\0';
    return rc;
}

/* An error reply as a message: the server's words, which never hold the password. */
static int server_error(redisReply *r, const char *what)
{
    const int rc = qk__fail(QK_EIO, "redis %s: %.*s", what, (int)r->len, r->str);
    freeReplyObject(r);
    return rc;
}

/* AUTH, formatted into a buffer of ours and written to the socket here, so hiredis's output
 * buffer (which it frees without wiping) never holds the password; the buffer is wiped with
 * explicit_bzero, a wipe the compiler cannot remove. redisGetReply then only reads: its reader's
 * buffer holds the reply ("+OK" or the error), never the command. */
static redisReply *auth_command(qk__store_conn *c, int64_t deadline_ms, const char *password)
{
    const int with_user = c->url.user[0] != '\0';
    const char *argv[3] = {"AUTH", with_user ? c->url.user : password, password};
    const size_t lens[3] = {4, strlen(argv[1]), strlen(password)};
    if (redisSetTimeout(c->ctx, time_left(deadline_ms)) != REDIS_OK)
        return NULL;
    char *cmd = NULL;
    const int len = redisFormatCommandArgv(&cmd, with_user ? 3 : 2, argv, lens);
    if (len < 0)
        return NULL;
    int ok = 1;
    for (int done = 0; ok && done < len;) {
        const ssize_t n = send(c->ctx->fd, cmd + done, (size_t)(len - done), MSG_NOSIGNAL);
        if (n > 0)
            done += (int)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            ok = 0; /* the send timeout (redisSetTimeout's) or a closed peer */
    }
    explicit_bzero(cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (!ok) {
        c->ctx->err = REDIS_ERR_IO;
        snprintf(c->ctx->errstr, sizeof c->ctx->errstr, "%s", strerror(errno));
        return NULL;
    }
    return read_reply(c, deadline_ms); /* bounded as every reply is */
}

static int connect_if_needed(qk__store_conn *c, int64_t deadline_ms)
{
    if (c->ctx != NULL && c->ctx->err == 0)
        return QK_OK;
    if (c->ctx != NULL) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    const struct timeval tv = time_left(deadline_ms);
    c->ctx = strcmp(c->url.scheme, "redis+unix") == 0
                 ? redisConnectUnixWithTimeout(c->url.path, tv)
                 : redisConnectWithTimeout(c->url.host, c->url.port ? c->url.port : 6379, tv);
    if (c->ctx == NULL || c->ctx->err) {
        /* Which server was tried, so a wrong host or port in the URL shows (issue 19). */
        const char *words = c->ctx ? c->ctx->errstr : "no memory";
        if (strcmp(c->url.scheme, "redis+unix") == 0)
            why(c, QK_EUNAVAIL, "%s: %s", c->url.path, words);
        else
            why(c, QK_EUNAVAIL, "%s:%d: %s", c->url.host, c->url.port ? c->url.port : 6379, words);
        return unreachable(c, "connect to");
    }
    c->sha[0] = '\0';
    c->replies = 0;
    c->closed = 0;
    const char *password = c->url.has_password ? c->url.password : getenv("QK_REDIS_PASSWORD");
    if (password != NULL) {
        redisReply *r = auth_command(c, deadline_ms, password);
        if (r == NULL)
            return unreachable(c, "AUTH");
        if (r->type == REDIS_REPLY_ERROR) {
            const int rc = server_error(r, "AUTH");
            redisFree(c->ctx);
            c->ctx = NULL;
            return rc;
        }
        freeReplyObject(r);
    }
    if (strcmp(c->url.scheme, "redis") == 0 && c->url.path[0] == '/' && c->url.path[1] != '\0') {
        const char *argv[2] = {"SELECT", c->url.path + 1};
        const size_t lens[2] = {6, strlen(c->url.path + 1)};
        redisReply *r = command(c, deadline_ms, 2, argv, lens);
        if (r == NULL)
            return unreachable(c, "SELECT");
        if (r->type == REDIS_REPLY_ERROR) {
            const int rc = server_error(r, "SELECT");
            redisFree(c->ctx);
            c->ctx = NULL;
            return rc;
        }
        freeReplyObject(r);
    }
    return QK_OK;
}

static int load_script(qk__store_conn *c, int64_t deadline_ms)
{
    const char *argv[3] = {"SCRIPT", "LOAD", c->script};
    const size_t lens[3] = {6, 4, c->script_len};
    redisReply *r = command(c, deadline_ms, 3, argv, lens);
    if (r == NULL)
        return unreachable(c, "SCRIPT LOAD");
    if (r->type != REDIS_REPLY_STRING || r->len != 40)
        return r->type == REDIS_REPLY_ERROR
                   ? server_error(r, "SCRIPT LOAD")
                   : (freeReplyObject(r), qk__fail(QK_EIO, "redis SCRIPT LOAD: odd reply"));
    memcpy(c->sha, r->str, 40);
    c->sha[40] = '\0';
    freeReplyObject(r);
    return QK_OK;
}

/* EVALSHA, the SHA, the number of keys and the keys, then the script's ARGV (merge.lua). */
enum {
    KEYS_PER_WINDOW = 4,
    NUMS_PER_WINDOW = 8,
    ARGS_MAX = 3 + (KEYS_PER_WINDOW + NUMS_PER_WINDOW) * QK__STORE_SYNC_WINDOWS + 7
};

/* EVALSHA, loading the script first when this server has not seen it (a new connection, a
 * restart, SCRIPT FLUSH: NOSCRIPT), once. */
static redisReply *run_script(qk__store_conn *c, int64_t deadline_ms, int argc, const char **argv,
                              size_t *lens, int *rc)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->sha[0] == '\0' && (*rc = load_script(c, deadline_ms)) != QK_OK)
            return NULL;
        argv[1] = c->sha;
        lens[1] = 40;
        redisReply *r = command(c, deadline_ms, argc, argv, lens);
        if (r == NULL) {
            *rc = unreachable(c, "EVALSHA");
            return NULL;
        }
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(r);
            c->sha[0] = '\0';
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            *rc = server_error(r, "sync");
            return NULL;
        }
        *rc = QK_OK;
        return r;
    }
    *rc = qk__fail(QK_EIO, "redis: the script vanished again after loading it");
    return NULL;
}

static int reply_int(const redisReply *r, size_t i, int64_t *out)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_INTEGER)
        return -1;
    *out = (int64_t)r->element[i]->integer;
    return 0;
}

static int parse_reply(const redisReply *r, unsigned n, qk__store_sync_reply *out)
{
    enum { PER_WINDOW = 6 };
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 + PER_WINDOW * (size_t)n)
        return qk__fail(QK_EIO, "redis sync: a reply of %zu elements for %u windows",
                        r->type == REDIS_REPLY_ARRAY ? r->elements : 0, n);
    int64_t v[PER_WINDOW];
    if (reply_int(r, 0, &out->server_ms) != 0)
        return qk__fail(QK_EIO, "redis sync: the reply's time is not an integer");
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < PER_WINDOW; j++)
            if (reply_int(r, 1 + PER_WINDOW * (size_t)i + j, &v[j]) != 0 || v[j] < 0)
                return qk__fail(QK_EIO, "redis sync: window %u's reply is not a count", i);
        qk__store_window_reply *w = &out->w[i];
        w->granted_host = (uint64_t)v[0];
        w->released_host = (uint64_t)v[1];
        w->granted = (uint64_t)v[2];
        w->used = (uint64_t)v[3];
        w->limit = (uint64_t)v[4];
        w->active_hosts = (uint32_t)v[5];
        w->overdraft = w->granted > w->limit ? w->granted - w->limit : 0;
    }
    return QK_OK;
}

static int sync_service(qk__store_conn *c, const qk__store_sync_req *req,
                        qk__store_sync_reply *reply, int64_t deadline_ms)
{
    const unsigned n = req->n_windows;
    char keys[QK__STORE_SYNC_WINDOWS][KEYS_PER_WINDOW][QK_NAME_MAX + QK__TZ_NAME_MAX + 48];
    char nums[QK__STORE_SYNC_WINDOWS][NUMS_PER_WINDOW][24];
    char n_keys[8], retention[24], active[24], retire[24], seq[24], retire_max[8];
    const char *argv[ARGS_MAX];
    size_t lens[ARGS_MAX];
    int argc = 0;
#define ARG(s) (argv[argc] = (s), lens[argc] = strlen(argv[argc]), argc++)
    ARG("EVALSHA");
    ARG(""); /* the SHA, set by run_script */
    snprintf(n_keys, sizeof n_keys, "%u", n * KEYS_PER_WINDOW);
    ARG(n_keys);
    for (unsigned i = 0; i < n; i++) {
        const qk__store_window_req *w = &req->w[i];
        /* The window's hash, its live hosts (:seen), its retired ones (:gone), and the
         * pieces of its rolling window (only read for one: merge.lua). */
        static const char *const suffix[KEYS_PER_WINDOW] = {"", ":seen", ":gone", ""};
        for (unsigned j = 0; j < KEYS_PER_WINDOW; j++) {
            /* A window of N periods adds N after its letter ("m15"), a zoned one '@' and its
             * zone ("d@America/Los_Angeles"; IANA names hold no ':'), and a rolling window's
             * piece an 'r' before it ("rs:<piece start>"), so that none shares keys with the
             * UTC one-period window of the same start, whose keys stay 0.2's. */
            char every[12] = "", start[24];
            if (w->every > 1)
                snprintf(every, sizeof every, "%u", w->every);
            snprintf(start, sizeof start, "%lld", (long long)w->start_ms);
            snprintf(keys[i][j], sizeof keys[i][j], "qk:{%s}:%s%c%s%s%s:%s%s", req->service,
                     w->horizon_ms > 0 ? "r" : "", PERIOD_LETTER[w->period], every,
                     w->tz != NULL ? "@" : "", w->tz != NULL ? w->tz : "",
                     j == 3 ? "pieces" : start, suffix[j]);
            ARG(keys[i][j]);
        }
    }
    ARG(req->host_id);
    snprintf(retention, sizeof retention, "%lld", (long long)QK__STORE_RETENTION_MS);
    ARG(retention);
    snprintf(active, sizeof active, "%lld", (long long)QK__STORE_ACTIVE_MS);
    ARG(active);
    snprintf(retire, sizeof retire, "%lld", (long long)qk__store_retire_ms());
    ARG(retire);
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)req->seq);
    ARG(seq);
    ARG(req->final ? "1" : "0");
    snprintf(retire_max, sizeof retire_max, "%d", QK__STORE_RETIRE_PER_SYNC);
    ARG(retire_max);
    for (unsigned i = 0; i < n; i++) {
        const qk__store_window_req *w = &req->w[i];
        const int forever = w->end_ms == QK_NEVER;
        const unsigned long long v[NUMS_PER_WINDOW] = {w->limit,
                                                       forever ? 0
                                                               : (unsigned long long)w->start_ms,
                                                       forever ? 0 : (unsigned long long)w->end_ms,
                                                       w->granted,
                                                       w->used,
                                                       w->refunded,
                                                       w->released,
                                                       (unsigned long long)w->horizon_ms};
        for (unsigned j = 0; j < NUMS_PER_WINDOW; j++) {
            snprintf(nums[i][j], sizeof nums[i][j], "%llu", v[j]);
            ARG(nums[i][j]);
        }
    }
#undef ARG
    pipe_guard g;
    pipe_block(&g);
    int rc;
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++) {
        if (attempt > 0 && !c->reconnect)
            break;
        c->reconnect = 0;
        if ((rc = connect_if_needed(c, deadline_ms)) == QK_OK)
            r = run_script(c, deadline_ms, argc, argv, lens, &rc);
    }
    pipe_unblock(&g);
    if (r == NULL)
        return rc;
    rc = parse_reply(r, n, reply);
    freeReplyObject(r);
    return rc;
}

static int server_time(qk__store_conn *c, int64_t *server_ms, int64_t deadline_ms)
{
    pipe_guard g;
    pipe_block(&g);
    int rc = QK_OK;
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++) {
        if (attempt > 0 && !c->reconnect)
            break;
        c->reconnect = 0;
        if ((rc = connect_if_needed(c, deadline_ms)) == QK_OK &&
            (r = command(c, deadline_ms, 1, (const char *[]){"TIME"}, (const size_t[]){4})) == NULL)
            rc = unreachable(c, "TIME");
    }
    pipe_unblock(&g);
    if (rc != QK_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return qk__fail(QK_EIO, "redis TIME: odd reply");
    }
    *server_ms =
        strtoll(r->element[0]->str, NULL, 10) * 1000 + strtoll(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);
    return QK_OK;
}

/* Redis needs nothing made in advance (keys appear at the first sync): init checks that the
 * server answers, with these credentials. */
static int init_nothing(qk__store_conn *c, int64_t deadline_ms, int *created)
{
    int64_t server_ms;
    *created = 0;
    return server_time(c, &server_ms, deadline_ms);
}

const qk__store_backend qk__store_redis = {QK__STORE_BACKEND_VERSION,
                                           "redis",
                                           check_url,
                                           open_conn,
                                           sync_service,
                                           server_time,
                                           close_conn,
                                           init_nothing,
                                           1};
const qk__store_backend qk__store_redis_unix = {QK__STORE_BACKEND_VERSION,
                                                "redis+unix",
                                                check_url,
                                                open_conn,
                                                sync_service,
                                                server_time,
                                                close_conn,
                                                init_nothing,
                                                1};
