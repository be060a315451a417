/* The proxy's own check (label proxy): RESP framing on every split of real replies, then each
 * fault, forced, against a real redis-server, judged by what the server holds afterwards, read
 * on a direct connection: a dropped reply's INCR counted, a duplicate's counted twice, a cut
 * before the request not counted, a cut after it counted, delays delayed. A proxy that did not
 * do what it says would make the seeded runs prove less than they claim. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fail.h"
#include "loopback.h"
#include "proxy.h"
#include "resp.h"
#include "servers.h"

/* ---- framing ---- */

static void check_framing(void)
{
    static const char *const whole[] = {
        "+OK\r\n",
        "-ERR wrong\r\n",
        ":42\r\n",
        ":-1\r\n",
        "$5\r\nhello\r\n",
        "$0\r\n\r\n",
        "$-1\r\n",
        "*-1\r\n",
        "*0\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        "*3\r\n:1700000000000\r\n*2\r\n:5\r\n$2\r\n\r\n\r\n+x\r\n",
        "$4\r\n\r\n\r\n\r\n", /* a bulk string may hold CRLF */
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        const size_t n = strlen(whole[i]);
        CHECK(qkp_resp_frame(whole[i], n) == (long)n, "value %zu: framed %ld of %zu", i,
              qkp_resp_frame(whole[i], n), n);
        for (size_t cut = 0; cut < n; cut++)
            CHECK(qkp_resp_frame(whole[i], cut) == 0, "value %zu cut at %zu: %ld, wanted 0", i, cut,
                  qkp_resp_frame(whole[i], cut));
        char two[256];
        snprintf(two, sizeof two, "%s+next\r\n", whole[i]);
        CHECK(qkp_resp_frame(two, strlen(two)) == (long)n, "value %zu with another behind", i);
    }
    static const char *const bad[] = {"?x\r\n", ":abc\r\n", "$3\r\nabcXY",
                                      "*x\r\n", ":1\rX",    "$-2\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(qkp_resp_frame(bad[i], strlen(bad[i])) == -1, "bad %zu: %ld", i,
              qkp_resp_frame(bad[i], strlen(bad[i])));
}

/* ---- a raw client ---- */

static int dial(int port)
{
    const int fd = qkt_loopback_connect(port);
    QKT_REQUIRE(fd >= 0, "connect %d: %s", port, strerror(errno));
    return fd;
}

/* Sends a request and waits for one reply: its length in out, 0 when the connection closed,
 * -1 when nothing came in timeout_ms. */
static long ask(int fd, const char *req, char *out, size_t cap, int timeout_ms)
{
    QKT_REQUIRE(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req), "send: %s",
                strerror(errno));
    size_t got = 0;
    const int64_t until = qkt_mono_ms() + timeout_ms;
    for (;;) {
        const long n = qkp_resp_frame(out, got);
        if (n > 0)
            return n;
        const int64_t left = until - qkt_mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            return -1;
        const ssize_t r = recv(fd, out + got, cap - 1 - got, 0);
        if (r <= 0)
            return 0;
        got += (size_t)r;
    }
}

static long long get_number(int port, const char *key)
{
    const int fd = dial(port);
    char req[128], out[128];
    snprintf(req, sizeof req, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key), key);
    const long n = ask(fd, req, out, sizeof out, 2000);
    close(fd);
    QKT_REQUIRE(n > 0, "GET %s: no reply", key);
    if (strncmp(out, "$-1", 3) == 0)
        return 0;
    const char *nl = strchr(out, '\n');
    return nl ? atoll(nl + 1) : -1;
}

/* ---- the proxy in a thread of its own, stepping until told to stop ---- */

typedef struct {
    qkp_proxy *p;
    atomic_bool stop;
} driver;

static void *drive(void *arg)
{
    driver *d = arg;
    char err[256];
    while (!atomic_load(&d->stop))
        QKT_REQUIRE(qkp_step(d->p, 5, err, sizeof err) == 0, "proxy: %s", err);
    /* Let what is in flight land. */
    const int64_t until = qkt_mono_ms() + 2000;
    while (!qkp_idle(d->p) && qkt_mono_ms() < until)
        QKT_REQUIRE(qkp_step(d->p, 5, err, sizeof err) == 0, "proxy: %s", err);
    return NULL;
}

/* One INCR of key through a proxy forcing `fate` on every request; what the client saw. */
static long incr_through(int redis_port, qkp_fate fate, const char *key, int64_t *elapsed_ms,
                         qkp_stats *stats)
{
    qkp_proxy *p = NULL;
    char err[256];
    const qkp_config cfg = {.upstream_port = redis_port,
                            .seed = 7,
                            .fault_pct = fate == QKP_PASS ? 0 : 100,
                            .long_pct = 100,
                            .short_delay_ms = 20,
                            .long_delay_ms = 200,
                            .only = (int)fate};
    QKT_REQUIRE(qkp_open(&p, &cfg, err, sizeof err) == 0, "proxy: %s", err);
    driver d = {p, false};
    pthread_t th;
    QKT_REQUIRE(pthread_create(&th, NULL, drive, &d) == 0, "pthread_create");
    const int fd = dial(qkp_port(p));
    char req[128], out[128];
    snprintf(req, sizeof req, "*2\r\n$4\r\nINCR\r\n$%zu\r\n%s\r\n", strlen(key), key);
    const int64_t t0 = qkt_mono_ms();
    const long n = ask(fd, req, out, sizeof out, 500);
    *elapsed_ms = qkt_mono_ms() - t0;
    close(fd);
    atomic_store(&d.stop, true);
    pthread_join(th, NULL);
    CHECK(qkp_idle(p), "%s: still busy after 2 s", qkp_fate_names[fate]);
    qkp_get_stats(p, stats);
    qkp_close(p);
    return n;
}

static void check_fates(int port)
{
    int64_t ms;
    qkp_stats st;
    long n = incr_through(port, QKP_PASS, "pass", &ms, &st);
    CHECK(n > 0 && get_number(port, "pass") == 1, "pass: reply %ld, count %lld", n,
          get_number(port, "pass"));
    n = incr_through(port, QKP_DELAY, "delay", &ms, &st);
    CHECK(n > 0 && ms >= 100 && get_number(port, "delay") == 1,
          "delay: reply %ld after %lld ms (wanted >= 100), count %lld", n, (long long)ms,
          get_number(port, "delay"));
    n = incr_through(port, QKP_SLOW_REPLY, "slow", &ms, &st);
    CHECK(n > 0 && ms >= 100 && get_number(port, "slow") == 1,
          "slow reply: reply %ld after %lld ms (wanted >= 100), count %lld", n, (long long)ms,
          get_number(port, "slow"));
    n = incr_through(port, QKP_DUPLICATE, "dup", &ms, &st);
    CHECK(n > 0 && get_number(port, "dup") == 2 && st.duplicates_landed == 1,
          "duplicate: reply %ld, count %lld (wanted 2), %llu copies landed", n,
          get_number(port, "dup"), (unsigned long long)st.duplicates_landed);
    n = incr_through(port, QKP_DROP_REPLY, "drop", &ms, &st);
    CHECK(n == -1 && get_number(port, "drop") == 1,
          "drop reply: reply %ld (wanted none), count %lld (wanted 1: applied)", n,
          get_number(port, "drop"));
    n = incr_through(port, QKP_CUT_BEFORE, "cutb", &ms, &st);
    CHECK(n == 0 && get_number(port, "cutb") == 0,
          "cut before: reply %ld (wanted a closed line), count %lld (wanted 0)", n,
          get_number(port, "cutb"));
    n = incr_through(port, QKP_CUT_AFTER, "cuta", &ms, &st);
    CHECK(n == 0 && get_number(port, "cuta") == 1,
          "cut after: reply %ld (wanted a closed line), count %lld (wanted 1)", n,
          get_number(port, "cuta"));
}

int main(void)
{
    check_framing();
    qkt_server redis;
    QKT_REQUIRE(qkt_server_start(&redis, QKT_REDIS, NULL) == 0, "%s", redis.error);
    check_fates(redis.port);
    qkt_server_stop(&redis);
    return qkt_verdict("proxy_self");
}
