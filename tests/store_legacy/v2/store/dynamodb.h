/* FIXTURE (tests/store_legacy): src/store/dynamodb.h as released at commit 3a831db, kept verbatim
 * as the "old host" of the mixed-fleet test (the qk_store_v2 library variant). Never edit it to
 * follow today's code: it is what a host of that release writes into the store. The only changes
 * are this comment and what compiling against today's internal headers takes, all made by
 * tests/store_legacy/CMakeLists.txt, none in the text: quoted includes of store/merge.h,
 * store/dynamodb.h, store/redis.h and qk_merge_lua.h resolve to the frozen copies (-iquote), and
 * qk__store_merge_window and qk__store_retention_ms are renamed qk__v2_* so that they do not
 * clash with today's merge.c, which the rest of the library keeps. */
/* The DynamoDB backend's parts (docs/store.md, "DynamoDB"): the transport (dynamodb_http.c:
 * libcurl with its own SigV4 signer, retries within the deadline), the protocol's JSON
 * (dynamodb_json.c: jansson, the service item decoded into C and encoded back) and the backend
 * (dynamodb.c: read, merge with the rule the Redis script applies, conditional write). */
#ifndef QK_STORE_DYNAMODB_H
#define QK_STORE_DYNAMODB_H

#include <stddef.h>
#include <stdint.h>

#include "store/merge.h"
#include "store/store.h"

enum {
    QK__DDB_TABLE_MAX = 256, /* DynamoDB table names: 3 to 255 of [A-Za-z0-9_.-] */
    QK__DDB_REGION_MAX = 64,
    QK__DDB_ENDPOINT_MAX = 256, /* http[s]://host[:port] */
    QK__DDB_TYPE_MAX = 128,     /* an error type, without its namespace */
    QK__DDB_MESSAGE_MAX = 256,
};

/* Where a dynamodb:// URL points. */
typedef struct {
    char table[QK__DDB_TABLE_MAX];
    char region[QK__DDB_REGION_MAX];
    char endpoint[QK__DDB_ENDPOINT_MAX]; /* https://dynamodb.<region>.amazonaws.com by default */
} qk__ddb_target;

/* dynamodb://TABLE?region=REGION[&endpoint=http://host:port] into t: QK_EINVAL naming what is
 * wrong. */
int qk__ddb_target_parse(qk__ddb_target *t, const qk__store_url *url);

/* ---- transport (dynamodb_http.c) ---- */

typedef struct qk__ddb_http qk__ddb_http;

/* An HTTP answer: its status, body (NUL-terminated, owned by the transport until the next
 * call), the server's clock from its Date header, and for an error its type and message. */
typedef struct {
    long status;
    const char *body;
    size_t len;
    int64_t date_ms; /* -1 when the answer had no Date header */
    char error_type[QK__DDB_TYPE_MAX];
    char message[QK__DDB_MESSAGE_MAX];
} qk__ddb_answer;

/* A transport to t's endpoint; one connection, kept alive between calls. QK_ENOMEM. */
int qk__ddb_http_new(qk__ddb_http **out, const qk__ddb_target *t);
void qk__ddb_http_free(qk__ddb_http *h); /* NULL-safe */

/* Calls operation op (GetItem, PutItem, DescribeTable) with a JSON body, signed with the
 * credentials in the environment, retrying throttling, 5xx and dropped connections with
 * jittered backoff until deadline_ms. QK_OK with any other answer in *a (a 400 such as
 * ConditionalCheckFailedException is an answer); QK_EUNAVAIL when no answer came in time;
 * QK_EIO for a reply cut short; QK_EINVAL without credentials. */
int qk__ddb_call(qk__ddb_http *h, const char *op, const char *json, int64_t deadline_ms,
                 qk__ddb_answer *a);

/* ---- the protocol's JSON (dynamodb_json.c) ---- */

/* One host's counters in one window, and when the store last saw it. */
typedef struct {
    char id[40];
    uint64_t granted, used, refunded, released;
    int64_t seen_ms;
} qk__ddb_host;

/* One window of the service item: an attribute named w_<period letter><start_ms>. */
typedef struct {
    char name[32];
    int64_t start_ms, end_ms;      /* end QK_NEVER for forever */
    uint64_t limit, granted, used; /* L, G, U */
    size_t n_hosts;
    qk__ddb_host *hosts; /* malloc'd */
} qk__ddb_window;

/* The item of one service: pk = the service's name, v = its version, one attribute per window. */
typedef struct {
    int exists;
    uint64_t version;
    size_t n_windows;
    qk__ddb_window *w; /* malloc'd */
} qk__ddb_item;

void qk__ddb_item_free(qk__ddb_item *it);

/* The window attribute's name for a request window. */
void qk__ddb_window_name(char *buf, size_t len, qk_period period, int64_t start_ms);

/* Request bodies, malloc'd (NULL: no memory). */
char *qk__ddb_json_describe(const char *table);
char *qk__ddb_json_get(const char *table, const char *service);
/* CreateTable: partition key pk (a string), no sort key, on-demand billing. */
char *qk__ddb_json_create_table(const char *table);
/* Whether a DescribeTable answer says the table is ACTIVE (not CREATING). */
int qk__ddb_json_table_active(const char *body, size_t len);
/* A conditional put of it: on version it->version when it->exists, else only if absent. The
 * written item carries version + 1. */
char *qk__ddb_json_put(const char *table, const char *service, const qk__ddb_item *it);

/* Decoders: QK_OK, or QK_EIO (or QK_ENOMEM) with a message that names what does not fit. */
int qk__ddb_json_item(const char *body, size_t len, const char *table, const char *service,
                      qk__ddb_item *out);
/* Checks DescribeTable's answer: the key must be pk, a string, alone. QK_EINVAL otherwise. */
int qk__ddb_json_check_table(const char *body, size_t len, const char *table);
/* An error answer's type (after its '#') and message; empty strings when it has none. */
void qk__ddb_json_error(const char *body, size_t len, char *type, size_t type_len, char *message,
                        size_t message_len);

#endif
