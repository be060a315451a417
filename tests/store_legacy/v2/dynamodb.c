/* FIXTURE (tests/store_legacy): src/store/dynamodb.c as released at commit 3a831db, kept verbatim
 * as the "old host" of the mixed-fleet test (the qk_store_v2 library variant). Never edit it to
 * follow today's code: it is what a host of that release writes into the store. The only changes
 * are this comment and what compiling against today's internal headers takes, all made by
 * tests/store_legacy/CMakeLists.txt, none in the text: quoted includes of store/merge.h,
 * store/dynamodb.h, store/redis.h and qk_merge_lua.h resolve to the frozen copies (-iquote), and
 * qk__store_merge_window and qk__store_retention_ms are renamed qk__v2_* so that they do not
 * clash with today's merge.c, which the rest of the library keeps. */
/* The DynamoDB backend (docs/store.md, "DynamoDB"): one item per service holds every window, so
 * a sync is a consistent GetItem, the store-side merge in C (merge.c: the rule the Redis script
 * applies), and a PutItem conditioned on the version it read. A failed condition means another
 * host wrote first: read again and merge again, within the deadline. A request that landed
 * after its caller gave up is harmless: it wrote cumulative values merged by max, and a retry
 * merges the same values again.
 *
 * DynamoDB has no clock in its expressions, so the store's time is the Date header of the read
 * (1 s resolution, rounded down, which never lets a grant through after a window's end since
 * windows end on whole seconds). The table is checked once per connection with DescribeTable,
 * so a missing table or a wrong key is named; the library never creates a table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store/dynamodb.h"

struct qk__store_conn {
    qk__ddb_target target;
    qk__ddb_http *http; /* made on first use */
    int table_checked;
    uint64_t rng;
};

/* ---- the URL ---- */

static int valid_table(const char *t)
{
    const size_t n = strlen(t);
    if (n < 3 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int valid_region(const char *r)
{
    if (*r == '\0')
        return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
            return 0;
    return 1;
}

int qk__ddb_target_parse(qk__ddb_target *t, const qk__store_url *url)
{
    static const char usage[] = "dynamodb://TABLE?region=REGION[&endpoint=http://host:port]";
    memset(t, 0, sizeof *t);
    if (url->user[0] != '\0' || url->has_password || url->port != 0 ||
        (url->path[0] != '\0' && strcmp(url->path, "/") != 0))
        return qk__fail(QK_EINVAL,
                        "store URL: %s takes no user, password, port or path (credentials come "
                        "from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                        usage);
    if (!valid_table(url->host))
        return qk__fail(QK_EINVAL,
                        "store URL: %s: the table name must be 3 to 255 of A-Z a-z 0-9 _ - .",
                        usage);
    snprintf(t->table, sizeof t->table, "%s", url->host);
    for (const char *p = url->query; *p != '\0';) {
        const size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        const size_t key_len = eq ? (size_t)(eq - p) : n;
        char *dst = NULL;
        size_t cap = 0;
        if (key_len == 6 && strncmp(p, "region", 6) == 0)
            dst = t->region, cap = sizeof t->region;
        else if (key_len == 8 && strncmp(p, "endpoint", 8) == 0)
            dst = t->endpoint, cap = sizeof t->endpoint;
        if (dst == NULL || eq == NULL)
            return qk__fail(QK_EINVAL, "store URL: %s: unknown parameter '%.*s'", usage,
                            (int)key_len, p);
        if (qk__store_url_decode(dst, cap, eq + 1, n - key_len - 1) != 0)
            return qk__fail(QK_EINVAL, "store URL: %s: the %.*s is too long or badly escaped",
                            usage, (int)key_len, p);
        p += n;
        if (*p == '&')
            p++;
    }
    if (!valid_region(t->region))
        return qk__fail(QK_EINVAL, "store URL: %s: region= is missing or not a region name", usage);
    if (t->endpoint[0] == '\0')
        snprintf(t->endpoint, sizeof t->endpoint, "https://dynamodb.%s.amazonaws.com", t->region);
    else if ((strncmp(t->endpoint, "http://", 7) != 0 &&
              strncmp(t->endpoint, "https://", 8) != 0) ||
             strchr(strstr(t->endpoint, "://") + 3, '/') != NULL ||
             strstr(t->endpoint, "://")[3] == '\0')
        return qk__fail(QK_EINVAL, "store URL: %s: endpoint= must be http[s]://host[:port]", usage);
    return QK_OK;
}

static int check_url(const qk__store_url *url)
{
    qk__ddb_target t;
    return qk__ddb_target_parse(&t, url);
}

static int open_conn(qk__store_conn **out, const qk__store_url *url)
{
    qk__store_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return qk__fail(QK_ENOMEM, "no memory for a store connection");
    const int rc = qk__ddb_target_parse(&c->target, url);
    if (rc != QK_OK) {
        free(c);
        return rc;
    }
    c->rng = (uint64_t)(uintptr_t)c ^ (uint64_t)time(NULL) * 0x2545f4914f6cdd1du;
    *out = c;
    return QK_OK;
}

static void close_conn(qk__store_conn *c)
{
    if (c == NULL)
        return;
    qk__ddb_http_free(c->http);
    free(c);
}

/* ---- calls ---- */

static int missing_table(const qk__store_conn *c)
{
    return qk__fail(QK_EIO,
                    "dynamodb table '%s' does not exist (region %s, %s): create it with "
                    "qkctl store init 'dynamodb://%s?region=%s' (or qk_store_init); a tracker "
                    "never creates tables",
                    c->target.table, c->target.region, c->target.endpoint, c->target.table,
                    c->target.region);
}

/* An answer that is neither success nor a failed condition, as an error. */
static int answer_error(const qk__store_conn *c, const char *op, const qk__ddb_answer *a)
{
    if (strcmp(a->error_type, "ResourceNotFoundException") == 0)
        return missing_table(c);
    if (strcmp(a->error_type, "ValidationException") == 0 ||
        strcmp(a->error_type, "SerializationException") == 0)
        return qk__fail(QK_EINVAL, "dynamodb %s on table '%s' refused: %s: %s", op, c->target.table,
                        a->error_type, a->message);
    if (a->status == 400 && a->error_type[0] == '\0')
        return qk__fail(QK_EIO, "dynamodb %s on table '%s': HTTP 400 without an error type", op,
                        c->target.table);
    return qk__fail(QK_EIO, "dynamodb %s on table '%s': HTTP %ld %s%s%s", op, c->target.table,
                    a->status, a->error_type[0] ? a->error_type : "(no error type)",
                    a->message[0] ? ": " : "", a->message);
}

/* One call with a body we made (NULL: no memory, freed here). */
static int call(qk__store_conn *c, const char *op, char *json, int64_t deadline_ms,
                qk__ddb_answer *a)
{
    if (json == NULL)
        return qk__fail(QK_ENOMEM, "dynamodb: no memory for a request");
    int rc = QK_OK;
    if (c->http == NULL)
        rc = qk__ddb_http_new(&c->http, &c->target);
    if (rc == QK_OK)
        rc = qk__ddb_call(c->http, op, json, deadline_ms, a);
    free(json);
    return rc;
}

/* DescribeTable: the table exists and has our key. Also the cheap request for the time, and
 * how init learns that a new table is ACTIVE (*active, when asked). */
static int describe(qk__store_conn *c, int64_t deadline_ms, int64_t *date_ms, int *active)
{
    qk__ddb_answer a;
    int rc = call(c, "DescribeTable", qk__ddb_json_describe(c->target.table), deadline_ms, &a);
    if (rc != QK_OK)
        return rc;
    if (a.status != 200)
        return answer_error(c, "DescribeTable", &a);
    if ((rc = qk__ddb_json_check_table(a.body, a.len, c->target.table)) != QK_OK)
        return rc;
    c->table_checked = 1;
    if (date_ms != NULL)
        *date_ms = a.date_ms;
    if (active != NULL)
        *active = qk__ddb_json_table_active(a.body, a.len);
    return QK_OK;
}

/* ---- the merge, on the decoded item ---- */

static qk__ddb_window *find_window(qk__ddb_item *it, const char *name)
{
    for (size_t i = 0; i < it->n_windows; i++)
        if (strcmp(it->w[i].name, name) == 0)
            return &it->w[i];
    return NULL;
}

static qk__ddb_host *find_host(qk__ddb_window *w, const char *id)
{
    for (size_t i = 0; i < w->n_hosts; i++)
        if (strcmp(w->hosts[i].id, id) == 0)
            return &w->hosts[i];
    return NULL;
}

/* Drops the windows that ended longer than their retention ago: the roll, done by the same
 * conditional write as the merge. */
static void drop_old(qk__ddb_item *it, int64_t now_ms)
{
    size_t keep = 0;
    for (size_t i = 0; i < it->n_windows; i++) {
        qk__ddb_window *w = &it->w[i];
        const int old = w->end_ms != QK_NEVER &&
                        now_ms > w->end_ms + qk__store_retention_ms(w->start_ms, w->end_ms);
        if (old) {
            free(w->hosts);
            continue;
        }
        it->w[keep++] = *w;
    }
    it->n_windows = keep;
}

/* Applies req to it at the store's time now_ms and fills reply. QK_ENOMEM; QK_EIO for a window
 * the merge refuses (src/store/merge.h). */
static int merge_item(qk__ddb_item *it, const qk__store_sync_req *req, int64_t now_ms,
                      qk__store_sync_reply *reply)
{
    qk__ddb_window *grown = realloc(it->w, (it->n_windows + req->n_windows + 1) * sizeof *it->w);
    if (grown == NULL)
        return qk__fail(QK_ENOMEM, "dynamodb: no memory for an item");
    it->w = grown;
    for (unsigned k = 0; k < req->n_windows; k++) {
        const qk__store_window_req *q = &req->w[k];
        char name[32];
        qk__ddb_window_name(name, sizeof name, q->period, q->start_ms);
        qk__ddb_window *w = find_window(it, name);
        if (w == NULL) {
            w = &it->w[it->n_windows++];
            memset(w, 0, sizeof *w);
            snprintf(w->name, sizeof w->name, "%s", name);
        }
        w->start_ms = q->start_ms;
        w->end_ms = q->end_ms;
        w->limit = q->limit;
        qk__ddb_host *h = find_host(w, req->host_id);
        if (h == NULL) {
            qk__ddb_host *more = realloc(w->hosts, (w->n_hosts + 1) * sizeof *more);
            if (more == NULL)
                return qk__fail(QK_ENOMEM, "dynamodb: no memory for an item");
            w->hosts = more;
            h = &w->hosts[w->n_hosts++];
            memset(h, 0, sizeof *h);
            snprintf(h->id, sizeof h->id, "%s", req->host_id);
        }
        qk__store_counts counts = {w->granted,  w->used, h->granted,
                                   h->released, h->used, h->refunded};
        const int merged = qk__store_merge_window(&counts, q, now_ms);
        if (merged != QK__MERGE_OK) /* nothing is written: the caller drops the item */
            return qk__fail(QK_EIO, "dynamodb sync: window %s of '%s' %s", name, req->service,
                            merged == QK__MERGE_REFUNDS_PAST_USE
                                ? "refunds more than it used"
                                : "holds totals below what its hosts hold");
        w->granted = counts.fleet_granted;
        w->used = counts.fleet_used;
        h->granted = counts.granted;
        h->used = counts.used;
        h->refunded = counts.refunded;
        h->released = counts.released;
        h->seen_ms = now_ms;
        qk__store_window_reply *r = &reply->w[k];
        r->granted_host = h->granted;
        r->released_host = h->released;
        r->granted = w->granted;
        r->used = w->used;
        r->limit = w->limit;
        r->overdraft = w->granted > w->limit ? w->granted - w->limit : 0;
        r->active_hosts = 0;
        for (size_t i = 0; i < w->n_hosts; i++)
            r->active_hosts += w->hosts[i].seen_ms >= now_ms - QK__STORE_ACTIVE_MS;
    }
    return QK_OK;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int sync_service(qk__store_conn *c, const qk__store_sync_req *req,
                        qk__store_sync_reply *reply, int64_t deadline_ms)
{
    int rc;
    if (!c->table_checked && (rc = describe(c, deadline_ms, NULL, NULL)) != QK_OK)
        return rc;
    for (unsigned attempt = 0;; attempt++) {
        qk__ddb_answer a;
        rc = call(c, "GetItem", qk__ddb_json_get(c->target.table, req->service), deadline_ms, &a);
        if (rc != QK_OK)
            return rc;
        if (a.status != 200) {
            if (strcmp(a.error_type, "ResourceNotFoundException") == 0)
                c->table_checked = 0;
            return answer_error(c, "GetItem", &a);
        }
        if (a.date_ms < 0)
            return qk__fail(QK_EIO,
                            "dynamodb GetItem on table '%s': the answer has no Date "
                            "header, so the store's time is unknown",
                            c->target.table);
        qk__ddb_item it;
        if ((rc = qk__ddb_json_item(a.body, a.len, c->target.table, req->service, &it)) != QK_OK)
            return rc;
        const int64_t now_ms = a.date_ms;
        drop_old(&it, now_ms);
        rc = merge_item(&it, req, now_ms, reply);
        char *put = rc == QK_OK ? qk__ddb_json_put(c->target.table, req->service, &it) : NULL;
        qk__ddb_item_free(&it);
        if (rc != QK_OK) {
            free(put);
            return rc;
        }
        if ((rc = call(c, "PutItem", put, deadline_ms, &a)) != QK_OK)
            return rc;
        if (a.status == 200) {
            /* The middle of the Date header's second: the offset is known to +-0.5 s. */
            reply->server_ms = now_ms + 500;
            return QK_OK;
        }
        if (strcmp(a.error_type, "ConditionalCheckFailedException") != 0)
            return answer_error(c, "PutItem", &a);
        /* Another host wrote first: read again after a short jittered pause, so hosts racing
         * for one item do not keep colliding. */
        c->rng ^= c->rng << 13;
        c->rng ^= c->rng >> 7;
        c->rng ^= c->rng << 17;
        const int64_t pause = (int64_t)(c->rng % (uint64_t)(2 + (attempt < 5 ? attempt : 5) * 2));
        if (qk__store_now_ms() + pause >= deadline_ms)
            return qk__fail(QK_EUNAVAIL,
                            "dynamodb table '%s': item pk='%s' kept changing under %u tries "
                            "until the timeout",
                            c->target.table, req->service, attempt + 1);
        sleep_ms(pause);
    }
}

static int server_time(qk__store_conn *c, int64_t *server_ms, int64_t deadline_ms)
{
    int64_t date = -1;
    const int rc = describe(c, deadline_ms, &date, NULL);
    if (rc != QK_OK)
        return rc;
    if (date < 0)
        return qk__fail(QK_EIO, "dynamodb DescribeTable on table '%s': no Date header",
                        c->target.table);
    *server_ms = date + 500;
    return QK_OK;
}

/* CreateTable, or the table already there: then its key is checked. Either way it is waited
 * for until ACTIVE (a new table is CREATING for a while, and answers nothing before). */
static int init_table(qk__store_conn *c, int64_t deadline_ms, int *created)
{
    qk__ddb_answer a;
    int rc = call(c, "CreateTable", qk__ddb_json_create_table(c->target.table), deadline_ms, &a);
    if (rc != QK_OK)
        return rc;
    if (a.status == 200)
        *created = 1;
    else if (strcmp(a.error_type, "ResourceInUseException") == 0)
        *created = 0;
    else
        return answer_error(c, "CreateTable", &a);
    for (;;) {
        int active = 0;
        if ((rc = describe(c, deadline_ms, NULL, &active)) != QK_OK || active)
            return rc;
        if (qk__store_now_ms() + 100 >= deadline_ms)
            return qk__fail(QK_EUNAVAIL,
                            "dynamodb table '%s' was not ACTIVE before the timeout; it is being "
                            "created: call again later",
                            c->target.table);
        sleep_ms(100);
    }
}

const qk__store_backend qk__store_dynamodb = {QK__STORE_BACKEND_VERSION,
                                              "dynamodb",
                                              check_url,
                                              open_conn,
                                              sync_service,
                                              server_time,
                                              close_conn,
                                              init_table};
