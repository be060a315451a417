/* The DynamoDB backend (docs/store.md, "DynamoDB"): one item per service holds every window, so
 * a sync is a consistent GetItem, the store-side merge in C (merge.c: the rule the Redis script
 * applies), and a PutItem conditioned on the version it read. A failed condition means another
 * host wrote first: read again and merge again, within the deadline. A request that landed
 * after its caller gave up is harmless: it wrote cumulative values merged by max, and a retry
 * merges the same values again.
 *
 * The item holds live hosts only (docs/store.md, "Retirement"): a host that sends its last word,
 * or is silent past qk__store_retire_ms() when another host syncs, is retired: its counts move
 * first to its own tomb item ("<service>/<host id>"), which it reads back if it syncs again. The
 * item's format is what older libraries read, so the one mark of a host that knows about tombs is
 * its entry's t: the store's time + 1.
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
        /* A rolling window's piece is kept only past its horizon (qk__ddb_window_expiry_ms),
         * so the item holds a few of them, not a day's. */
        const int old =
            w->name[2] == 'r'
                ? now_ms > qk__ddb_window_expiry_ms(w->name)
                : w->end_ms != QK_NEVER &&
                      now_ms > w->end_ms + qk__store_retention_ms(w->start_ms, w->end_ms);
        if (old) {
            free(w->hosts);
            continue;
        }
        it->w[keep++] = *w;
    }
    it->n_windows = keep;
}

static void remove_host(qk__ddb_window *w, qk__ddb_host *h)
{
    const size_t i = (size_t)(h - w->hosts);
    memmove(&w->hosts[i], &w->hosts[i + 1], (w->n_hosts - i - 1) * sizeof *h);
    w->n_hosts--;
}

static qk__store_counts counts_of(const qk__ddb_window *w, const qk__ddb_host *h)
{
    const qk__store_counts c = {w->granted, w->used, h->granted, h->released, h->used, h->refunded};
    return c;
}

/* Whether the request counted the host in window q before: it then has an entry there, or had
 * one until the store retired it (rule 4 of docs/store.md, "Retirement"). */
static int counted_before(const qk__store_window_req *q)
{
    return q->granted > 0 || q->released > 0 || q->used > 0 || q->refunded > 0;
}

/* Whether a merge of req into it must start some entry of the host from its tomb. */
static int needs_tomb(qk__ddb_item *it, const qk__store_sync_req *req)
{
    for (unsigned k = 0; k < req->n_windows; k++) {
        char name[QK__DDB_WINDOW_NAME_MAX];
        qk__ddb_window_name_of(name, sizeof name, &req->w[k]);
        const qk__ddb_window *w = find_window(it, name);
        if (counted_before(&req->w[k]) &&
            (w == NULL || find_host((qk__ddb_window *)w, req->host_id) == NULL))
            return 1;
    }
    return 0;
}

/* What the item holds in the other pieces of the rolling window whose piece w is, that ended
 * less than horizon_ms before now_ms (merge.h); 0 for a fixed window. A piece's name is its
 * window's prefix, w_r<letter><every>x, and its start. */
static uint64_t other_pieces(const qk__ddb_item *it, const qk__ddb_window *w, int64_t horizon_ms,
                             int64_t now_ms)
{
    if (horizon_ms <= 0)
        return 0;
    const size_t prefix = (size_t)(strchr(w->name, 'x') - w->name) + 1;
    uint64_t held = 0;
    for (size_t i = 0; i < it->n_windows; i++) {
        const qk__ddb_window *o = &it->w[i];
        if (o != w && strncmp(o->name, w->name, prefix) == 0 &&
            qk__store_piece_counts(o->end_ms, now_ms, horizon_ms))
            held += o->granted;
    }
    return held;
}

/* Applies req to it at the store's time now_ms, an absent entry starting from the host's tomb
 * (NULL: none read), and fills the host's part of reply. QK_ENOMEM; QK_EIO for a window the
 * merge refuses (src/store/merge.h). */
static int merge_item(qk__ddb_item *it, const qk__store_sync_req *req, int64_t now_ms,
                      const qk__ddb_tomb *tomb, qk__store_sync_reply *reply)
{
    qk__ddb_window *grown = realloc(it->w, (it->n_windows + req->n_windows + 1) * sizeof *it->w);
    if (grown == NULL)
        return qk__fail(QK_ENOMEM, "dynamodb: no memory for an item");
    it->w = grown;
    for (unsigned k = 0; k < req->n_windows; k++) {
        const qk__store_window_req *q = &req->w[k];
        char name[QK__DDB_WINDOW_NAME_MAX];
        qk__ddb_window_name_of(name, sizeof name, q);
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
            /* Retired here before: resume exactly where the store left the host, so nothing it
             * was counted for counts again, and the give-back the store made shows in x. */
            const qk__ddb_tomb_window *tw = tomb ? qk__ddb_tomb_find(tomb, name) : NULL;
            if (tw != NULL) {
                h->granted = tw->granted;
                h->released = tw->released;
                h->used = tw->used;
                h->refunded = tw->refunded;
            }
        }
        qk__store_counts counts = counts_of(w, h);
        const int merged = qk__store_merge_window(&counts, q, now_ms, QK__MERGE_MAY_GRANT,
                                                  other_pieces(it, w, q->horizon_ms, now_ms));
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
        h->seen_ms = QK__DDB_MARK(now_ms);
        reply->w[k].granted_host = h->granted;
        reply->w[k].released_host = h->released;
    }
    return QK_OK;
}

/* The host's last word (req->final), first step: merged as usual, then what it still holds in
 * each window of the request goes back (G drops; its use stays in U and G) and the reply says
 * so. Its entries then leave through retire_host, like a silent host's. QK_EIO, nothing
 * written, when G holds less than the host does. */
static int give_back_all(qk__ddb_item *it, const qk__store_sync_req *req,
                         qk__store_sync_reply *reply)
{
    for (unsigned k = 0; k < req->n_windows; k++) {
        char name[QK__DDB_WINDOW_NAME_MAX];
        qk__ddb_window_name_of(name, sizeof name, &req->w[k]);
        qk__ddb_window *w = find_window(it, name);
        qk__ddb_host *h = w ? find_host(w, req->host_id) : NULL;
        if (h == NULL)
            continue;
        qk__store_counts counts = counts_of(w, h);
        if (qk__store_retire_counts(&counts) != QK__MERGE_OK)
            return qk__fail(QK_EIO, "dynamodb sync: window %s of '%s' %s", name, req->service,
                            "holds totals below what its hosts hold");
        w->granted = counts.fleet_granted;
        h->released = counts.released;
        reply->w[k].released_host = counts.released;
    }
    return QK_OK;
}

/* The fleet's part of reply, from the item as it will be written. */
static void fleet_reply(qk__ddb_item *it, const qk__store_sync_req *req, int64_t now_ms,
                        qk__store_sync_reply *reply)
{
    for (unsigned k = 0; k < req->n_windows; k++) {
        char name[QK__DDB_WINDOW_NAME_MAX];
        qk__ddb_window_name_of(name, sizeof name, &req->w[k]);
        const qk__ddb_window *w = find_window(it, name);
        qk__store_window_reply *r = &reply->w[k];
        /* A piece's G with what its window's other pieces hold, as the Redis script answers. */
        r->granted = w->granted + other_pieces(it, w, req->w[k].horizon_ms, now_ms);
        r->used = w->used;
        r->limit = w->limit;
        r->overdraft = r->granted > w->limit ? r->granted - w->limit : 0;
        r->active_hosts = 0;
        for (size_t i = 0; i < w->n_hosts; i++)
            r->active_hosts += w->hosts[i].seen_ms >= now_ms - QK__STORE_ACTIVE_MS;
    }
}

/* Whether the entry h of another host than the syncing one has been silent past the bound, and
 * carries the mark (an older library's host is never retired: it would not look for a tomb). */
static int silent(const qk__ddb_host *h, const char *syncing, int64_t bound_ms)
{
    return QK__DDB_MARKED(h->seen_ms) && h->seen_ms < bound_ms && strcmp(h->id, syncing) != 0;
}

static int64_t ttl_of(int64_t expiry_ms)
{
    return expiry_ms == QK_NEVER ? 0 : expiry_ms / 1000 + 1;
}

/* After a tomb was written (its answer in a): drops its windows past their retention and sets
 * its ttl to its last window's, by a second update on the same version, only when needed (the
 * first write knew only the windows it retired). Best effort: a failure leaves a tomb that is
 * still right, only larger or kept longer than needed. */
static void tidy_tomb(qk__store_conn *c, const qk__store_sync_req *req, const char *host,
                      uint64_t version, int64_t ttl_s, const qk__ddb_answer *a, int64_t now_ms,
                      int64_t deadline_ms)
{
    qk__ddb_tomb t;
    if (qk__ddb_json_tomb(a->body, a->len, "Attributes", c->target.table, req->service, host, &t) !=
        QK_OK)
        return;
    const char **old = calloc(t.n_windows + 1, sizeof *old);
    size_t n_old = 0;
    int64_t last = INT64_MIN;
    for (size_t i = 0; old != NULL && i < t.n_windows; i++) {
        const int64_t expiry = qk__ddb_window_expiry_ms(t.w[i].name);
        if (expiry >= 0 && expiry < now_ms)
            old[n_old++] = t.w[i].name;
        else if (expiry > last || expiry < 0)
            last = expiry < 0 ? QK_NEVER : expiry;
    }
    const int64_t want = last == INT64_MIN ? ttl_s : ttl_of(last);
    if (old != NULL && (n_old > 0 || want != ttl_s)) {
        qk__ddb_answer b;
        call(c, "UpdateItem",
             qk__ddb_json_put_tomb(c->target.table, req->service, host, version, NULL, 0, want, old,
                                   n_old, 1),
             deadline_ms, &b);
    }
    free(old);
    qk__ddb_tomb_free(&t);
}

/* Which entries of a host a retirement takes: those silent past the bound, or, for the syncing
 * host's last word, those in the windows of its request. */
typedef struct {
    const qk__store_sync_req *req;
    int64_t bound_ms;
    int last_word;
} retire_rule;

static int takes(const retire_rule *r, const qk__ddb_window *w, const qk__ddb_host *h)
{
    if (!r->last_word)
        return silent(h, r->req->host_id, r->bound_ms);
    for (unsigned k = 0; k < r->req->n_windows; k++) {
        char name[QK__DDB_WINDOW_NAME_MAX];
        qk__ddb_window_name_of(name, sizeof name, &r->req->w[k]);
        if (strcmp(name, w->name) == 0)
            return 1;
    }
    return 0;
}

/* Retires host id from the entries rule takes (docs/store.md, "Retirement"): the store takes back
 * what it held unused, its counts go to its tomb first (an UpdateItem that lands only over a
 * tomb computed from an older version of the item), and only then do its entries leave the
 * item. tw has room for every window. 1: retired; 0: the host stays, for a later sync (counts
 * changed behind the hosts' backs, a newer tomb, or no answer); QK_ENOMEM. */
static int retire_host(qk__store_conn *c, qk__ddb_item *it, const retire_rule *rule, const char *id,
                       qk__ddb_tomb_window *tw, int64_t now_ms, int64_t deadline_ms)
{
    size_t n = 0;
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < it->n_windows; i++) {
        qk__ddb_host *h = find_host(&it->w[i], id);
        if (h == NULL || !takes(rule, &it->w[i], h))
            continue;
        qk__store_counts counts = counts_of(&it->w[i], h);
        if (qk__store_retire_counts(&counts) != QK__MERGE_OK)
            return 0; /* G below what the host holds: changed behind the hosts' backs */
        tw[n] = (qk__ddb_tomb_window){"", counts.granted, counts.released, counts.used,
                                      counts.refunded};
        snprintf(tw[n].name, sizeof tw[n].name, "%s", it->w[i].name);
        const int64_t expiry = qk__ddb_window_expiry_ms(it->w[i].name);
        if (expiry < 0 || expiry == QK_NEVER)
            last = QK_NEVER;
        else if (last != QK_NEVER && expiry > last)
            last = expiry;
        n++;
    }
    if (n == 0)
        return 0;
    const int64_t ttl_s = ttl_of(last);
    qk__ddb_answer a;
    const int rc = call(c, "UpdateItem",
                        qk__ddb_json_put_tomb(c->target.table, rule->req->service, id, it->version,
                                              tw, n, ttl_s, NULL, 0, 0),
                        deadline_ms, &a);
    if (rc == QK_ENOMEM)
        return rc;
    if (rc != QK_OK || a.status != 200)
        return 0;
    tidy_tomb(c, rule->req, id, it->version, ttl_s, &a, now_ms, deadline_ms);
    for (size_t i = 0; i < it->n_windows; i++) {
        qk__ddb_host *h = find_host(&it->w[i], id);
        if (h == NULL || !takes(rule, &it->w[i], h))
            continue;
        qk__store_counts counts = counts_of(&it->w[i], h);
        (void)qk__store_retire_counts(&counts); /* took above, on the same counts */
        it->w[i].granted = counts.fleet_granted;
        remove_host(&it->w[i], h);
    }
    return 1;
}

/* Retires up to QK__STORE_RETIRE_PER_SYNC hosts silent past the bound (docs/store.md,
 * "Retirement"), before the conditional write of the item. A retirement stops when the deadline
 * would not leave room for the write (two reads' time). QK_ENOMEM. */
static int retire_silent(qk__store_conn *c, qk__ddb_item *it, const qk__store_sync_req *req,
                         int64_t now_ms, int64_t read_ms, int64_t deadline_ms)
{
    const retire_rule rule = {req, now_ms - qk__store_retire_ms(), 0};
    char ids[QK__STORE_RETIRE_PER_SYNC][sizeof it->w[0].hosts[0].id];
    size_t n_ids = 0;
    for (size_t i = 0; i < it->n_windows && n_ids < QK__STORE_RETIRE_PER_SYNC; i++)
        for (size_t j = 0; j < it->w[i].n_hosts && n_ids < QK__STORE_RETIRE_PER_SYNC; j++) {
            const qk__ddb_host *h = &it->w[i].hosts[j];
            size_t seen = 0;
            while (seen < n_ids && strcmp(ids[seen], h->id) != 0)
                seen++;
            if (seen == n_ids && takes(&rule, &it->w[i], h))
                snprintf(ids[n_ids++], sizeof ids[0], "%s", h->id);
        }
    if (n_ids == 0)
        return QK_OK;
    qk__ddb_tomb_window *tw = calloc(it->n_windows + 1, sizeof *tw);
    if (tw == NULL)
        return qk__fail(QK_ENOMEM, "dynamodb: no memory for a tomb");
    int rc = QK_OK;
    for (size_t k = 0; k < n_ids && rc >= 0; k++) {
        if (qk__store_now_ms() + 2 * read_ms >= deadline_ms)
            break; /* the write of the item comes first: the next syncs retire the rest */
        rc = retire_host(c, it, &rule, ids[k], tw, now_ms, deadline_ms);
    }
    free(tw);
    return rc < 0 ? rc : QK_OK;
}

/* The last word's second step: the syncing host leaves the windows of its request, its totals
 * kept in its tomb like a silent host's, so the store still accounts for every host that ever
 * synced (the contract's view: retired hosts included). When the tomb cannot be written, the
 * host's entries stay, holding nothing, and silence retires them later. QK_ENOMEM. */
static int leave(qk__store_conn *c, qk__ddb_item *it, const qk__store_sync_req *req, int64_t now_ms,
                 int64_t deadline_ms)
{
    const retire_rule rule = {req, 0, 1};
    qk__ddb_tomb_window *tw = calloc(it->n_windows + 1, sizeof *tw);
    if (tw == NULL)
        return qk__fail(QK_ENOMEM, "dynamodb: no memory for a tomb");
    const int rc = retire_host(c, it, &rule, req->host_id, tw, now_ms, deadline_ms);
    free(tw);
    return rc < 0 ? rc : QK_OK;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The syncing host's tomb, read at most once per sync (rule 4 of docs/store.md, "Retirement"). */
typedef struct {
    int read;
    int64_t date_ms; /* the store's time of the read */
    qk__ddb_tomb tomb;
} tomb_read;

static int read_tomb(qk__store_conn *c, const qk__store_sync_req *req, int64_t now_ms,
                     int64_t deadline_ms, tomb_read *t)
{
    /* A tomb read once stays right for the whole sync: it changes only when this host is
     * retired again, which needs an entry restored after this read and then silent for the
     * bound. A sync that outlasts that (a deadline longer than the bound) reads it again. */
    if (t->read && now_ms < t->date_ms + qk__store_retire_ms() - 1000)
        return QK_OK;
    qk__ddb_tomb_free(&t->tomb);
    t->read = 0;
    qk__ddb_answer a;
    int rc = call(c, "GetItem", qk__ddb_json_get_tomb(c->target.table, req->service, req->host_id),
                  deadline_ms, &a);
    if (rc != QK_OK)
        return rc;
    if (a.status != 200)
        return answer_error(c, "GetItem", &a);
    if ((rc = qk__ddb_json_tomb(a.body, a.len, "Item", c->target.table, req->service, req->host_id,
                                &t->tomb)) != QK_OK)
        return rc;
    t->read = 1;
    t->date_ms = a.date_ms < 0 ? now_ms : a.date_ms;
    return QK_OK;
}

/* One attempt: read the item, merge, retire, write. QK_OK with *collided set when another host
 * wrote first. */
static int sync_once(qk__store_conn *c, const qk__store_sync_req *req, qk__store_sync_reply *reply,
                     int64_t deadline_ms, tomb_read *tomb, int *collided)
{
    *collided = 0;
    qk__ddb_answer a;
    const int64_t started = qk__store_now_ms();
    int rc = call(c, "GetItem", qk__ddb_json_get(c->target.table, req->service), deadline_ms, &a);
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
    const int64_t read_ms = qk__store_now_ms() - started;
    qk__ddb_item it;
    if ((rc = qk__ddb_json_item(a.body, a.len, c->target.table, req->service, &it)) != QK_OK)
        return rc;
    const int64_t now_ms = a.date_ms;
    drop_old(&it, now_ms);
    if (needs_tomb(&it, req))
        rc = read_tomb(c, req, now_ms, deadline_ms, tomb);
    if (rc == QK_OK)
        rc = merge_item(&it, req, now_ms, tomb->read ? &tomb->tomb : NULL, reply);
    if (rc == QK_OK && req->final)
        rc = give_back_all(&it, req, reply);
    if (rc == QK_OK && req->final)
        rc = leave(c, &it, req, now_ms, deadline_ms);
    if (rc == QK_OK)
        rc = retire_silent(c, &it, req, now_ms, read_ms, deadline_ms);
    if (rc == QK_OK)
        fleet_reply(&it, req, now_ms, reply);
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
    *collided = 1;
    return QK_OK;
}

static int sync_service(qk__store_conn *c, const qk__store_sync_req *req,
                        qk__store_sync_reply *reply, int64_t deadline_ms)
{
    int rc;
    if (!c->table_checked && (rc = describe(c, deadline_ms, NULL, NULL)) != QK_OK)
        return rc;
    tomb_read tomb;
    memset(&tomb, 0, sizeof tomb);
    for (unsigned attempt = 0;; attempt++) {
        int collided = 0;
        rc = sync_once(c, req, reply, deadline_ms, &tomb, &collided);
        if (rc != QK_OK || !collided)
            break;
        /* Another host wrote first: read again after a short jittered pause, so hosts racing
         * for one item do not keep colliding. */
        c->rng ^= c->rng << 13;
        c->rng ^= c->rng >> 7;
        c->rng ^= c->rng << 17;
        const int64_t pause = (int64_t)(c->rng % (uint64_t)(2 + (attempt < 5 ? attempt : 5) * 2));
        if (qk__store_now_ms() + pause >= deadline_ms) {
            rc = qk__fail(QK_EUNAVAIL,
                          "dynamodb table '%s': item pk='%s' kept changing under %u tries "
                          "until the timeout",
                          c->target.table, req->service, attempt + 1);
            break;
        }
        sleep_ms(pause);
    }
    qk__ddb_tomb_free(&tomb.tomb);
    return rc;
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
                                              init_table,
                                              QK__DDB_CLOCK_MS};
