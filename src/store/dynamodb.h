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
    QK__DDB_TOMB_KEY_MAX = 128, /* "<service>/<host id>": 63 + 1 + 39 and the NUL */
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

/* One host's counters in one window, and when the store last saw it: the attribute t. This
 * library writes its own entry's t as the store's time (whole seconds) + 1, the mark of a host
 * that knows about retirement; an entry with t % 1000 == 0 was written by an older library and
 * is never retired (docs/store.md, "Retirement"). */
typedef struct {
    char id[40];
    uint64_t granted, used, refunded, released;
    int64_t seen_ms;
} qk__ddb_host;

/* A host entry's t, as this library writes it at the store's time now_ms, and whether an entry's
 * t carries that mark. */
#define QK__DDB_MARK(now_ms) ((now_ms) + 1)
#define QK__DDB_MARKED(t)    ((t) % 1000 == 1)

/* The resolution of the store's time here: the Date header's whole seconds. */
#define QK__DDB_CLOCK_MS INT64_C(1000)

/* A window attribute's name: w_<period letter>[<every>x]<start_ms>[@<zone>], or
 * w_r<period letter><every>x<start_ms> for a piece of a rolling window, at most
 * 2 + 1 + 10 + 1 + 20 characters, '@' and a zone name (QK__TZ_NAME_MAX with its NUL). */
#define QK__DDB_WINDOW_NAME_MAX (40 + 64)

/* One window of the service item: an attribute named w_<period letter><start_ms>, or
 * w_<letter><every>x<start_ms> for a window of several periods, either followed by @<zone> for
 * one in a time zone (0.2 wrote neither). */
typedef struct {
    char name[QK__DDB_WINDOW_NAME_MAX];
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

/* One window of a retired host's tomb item: what the store held for it when it retired it. */
typedef struct {
    char name[QK__DDB_WINDOW_NAME_MAX]; /* the window's attribute name in the service item */
    uint64_t granted, released, used, refunded;
} qk__ddb_tomb_window;

/* A retired host's tomb item (docs/store.md, "Retirement"): pk = "<service>/<host id>", v = the
 * version of the service item the retirement was computed from, ttl (N, epoch seconds) when no
 * window of it is forever, and per window an attribute named as in the service item holding g,
 * x, u and r. Only that host ever reads it, to resume. */
typedef struct {
    int exists;
    uint64_t version;
    int64_t ttl_s; /* 0: none */
    size_t n_windows;
    qk__ddb_tomb_window *w; /* malloc'd */
} qk__ddb_tomb;

void qk__ddb_tomb_free(qk__ddb_tomb *t);
/* The tomb's window named name, or NULL. */
const qk__ddb_tomb_window *qk__ddb_tomb_find(const qk__ddb_tomb *t, const char *name);
/* When the window attribute name (w_<p><start_ms>) stops being kept: its end plus its retention
 * (qk__store_retention_ms); QK_NEVER for a forever window; -1 for a name of no window. */
int64_t qk__ddb_window_expiry_ms(const char *name);

/* The window attribute's name for a window of one period, and for a request window. */
void qk__ddb_window_name(char *buf, size_t len, qk_period period, int64_t start_ms);
void qk__ddb_window_name_of(char *buf, size_t len, const qk__store_window_req *w);

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
/* A consistent GetItem of host's tomb in service. */
char *qk__ddb_json_get_tomb(const char *table, const char *service, const char *host);
/* An UpdateItem of host's tomb that SETs v = version and each of the n windows w, sets ttl to
 * ttl_s (0: REMOVEs it) and REMOVEs the n_old window attributes named in old. Conditioned on
 * attribute_not_exists(v) OR v < version (so a retirement computed from an older version of
 * the service item never overwrites a newer tomb), or with exact set, on v = version (the
 * retirer's own tidy-up of the tomb it just wrote). Asks for the tomb as written (ALL_NEW). */
char *qk__ddb_json_put_tomb(const char *table, const char *service, const char *host,
                            uint64_t version, const qk__ddb_tomb_window *w, size_t n, int64_t ttl_s,
                            const char *const *old, size_t n_old, int exact);

/* Decoders: QK_OK, or QK_EIO (or QK_ENOMEM) with a message that names what does not fit. */
int qk__ddb_json_item(const char *body, size_t len, const char *table, const char *service,
                      qk__ddb_item *out);
/* A tomb from a GetItem answer (member "Item") or an UpdateItem's (member "Attributes"); no such
 * member: out->exists 0. Anything but quotakeeper's tomb shape is QK_EIO naming it. */
int qk__ddb_json_tomb(const char *body, size_t len, const char *member, const char *table,
                      const char *service, const char *host, qk__ddb_tomb *out);
/* Checks DescribeTable's answer: the key must be pk, a string, alone. QK_EINVAL otherwise. */
int qk__ddb_json_check_table(const char *body, size_t len, const char *table);
/* An error answer's type (after its '#') and message; empty strings when it has none. */
void qk__ddb_json_error(const char *body, size_t len, char *type, size_t type_len, char *message,
                        size_t message_len);

#endif
