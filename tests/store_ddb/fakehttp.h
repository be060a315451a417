/* A loopback HTTP server for the DynamoDB suites: it records every request as it arrived (the
 * bytes libcurl signed and sent) and answers each with what the test's function says, so a test
 * can check signatures and feed the backend replies dynalite never gives (an unknown error type,
 * a body cut short). One connection at a time, kept alive as libcurl keeps it. */
#ifndef QK_FAKEHTTP_H
#define QK_FAKEHTTP_H

#include <pthread.h>
#include <stddef.h>

#define FAKEHTTP_MAX_REQUESTS 64

/* What to send back for request i (the operation from its X-Amz-Target): raw bytes after
 * which the connection is closed when *close_after is set. NULL: close without answering. */
typedef const char *(*fakehttp_fn)(unsigned i, const char *op, int *close_after, void *ctx);

typedef struct {
    int port;
    int listen_fd;
    pthread_t thread;
    fakehttp_fn respond;
    void *ctx;
    pthread_mutex_t mu;
    unsigned n;                       /* requests recorded */
    char *raw[FAKEHTTP_MAX_REQUESTS]; /* each request: head and body, NUL-terminated */
    size_t raw_len[FAKEHTTP_MAX_REQUESTS];
} fakehttp;

/* Starts it on a free loopback port (f->port). 0, or -1. */
int fakehttp_start(fakehttp *f, fakehttp_fn respond, void *ctx);
void fakehttp_stop(fakehttp *f);

/* A 200 answer with a JSON body and a Date header (the backend needs the server's time), in a
 * static buffer of this thread. */
const char *fakehttp_ok(const char *json);
/* DescribeTable's answer for a table with quotakeeper's key. */
#define FAKEHTTP_TABLE_OK                                                                          \
    "{\"Table\":{\"TableName\":\"qk_quota\",\"KeySchema\":[{\"AttributeName\":\"pk\","             \
    "\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","                  \
    "\"AttributeType\":\"S\"}]}}"

#endif
