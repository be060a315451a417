/* The DynamoDB protocol's JSON, with jansson: request bodies, and the service item decoded into
 * C (and encoded back) with every attribute checked, so an item quotakeeper did not write is
 * refused by name before anything is written over it. DynamoDB numbers travel as strings, so
 * 64-bit counters stay exact.
 *
 * The item (docs/store.md, "DynamoDB"): pk (S) the service, v (N) its version, and per window an
 * attribute w_<period letter><start_ms> (M) holding s and e (N: its start and end in ms, e 0 for
 * forever), L, G, U (N) and h (M): per host id a map of g, x, u, r and t (N: the store's time
 * of its last sync, + 1 when this library wrote it). A retired host's tomb item: pk (S)
 * "<service>/<host id>", v (N), ttl (N, optional) and per window an attribute named as in the
 * service item holding g, x, u and r (N). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "error.h"
#include "store/dynamodb.h"

/* By qk_period: 's' and 'w' for the periods of options version 4. */
static const char PERIOD_LETTER[] = {'m', 'h', 'd', 'M', 'f', 's', 'w'};

void qk__ddb_window_name(char *buf, size_t len, qk_period period, int64_t start_ms)
{
    snprintf(buf, len, "w_%c%" PRId64, PERIOD_LETTER[period], start_ms);
}

void qk__ddb_window_name_of(char *buf, size_t len, const qk__store_window_req *w)
{
    if (w->horizon_ms > 0) /* a rolling window's piece: always with its every, for its prefix */
        snprintf(buf, len, "w_r%c%" PRIu32 "x%" PRId64, PERIOD_LETTER[w->period],
                 w->every > 1 ? w->every : 1, w->start_ms);
    else if (w->every <= 1)
        qk__ddb_window_name(buf, len, w->period, w->start_ms);
    else
        snprintf(buf, len, "w_%c%" PRIu32 "x%" PRId64, PERIOD_LETTER[w->period], w->every,
                 w->start_ms);
    if (w->tz != NULL) { /* last: a zone's name may hold an 'x' */
        const size_t at = strlen(buf);
        snprintf(buf + at, len - at, "@%s", w->tz);
    }
}

void qk__ddb_item_free(qk__ddb_item *it)
{
    for (size_t i = 0; i < it->n_windows; i++)
        free(it->w[i].hosts);
    free(it->w);
    memset(it, 0, sizeof *it);
}

void qk__ddb_tomb_free(qk__ddb_tomb *t)
{
    free(t->w);
    memset(t, 0, sizeof *t);
}

const qk__ddb_tomb_window *qk__ddb_tomb_find(const qk__ddb_tomb *t, const char *name)
{
    for (size_t i = 0; i < t->n_windows; i++)
        if (strcmp(t->w[i].name, name) == 0)
            return &t->w[i];
    return NULL;
}

/* A rolling piece's name w_r<letter><every>x<start>: when it stops being kept, its end plus
 * qk__store_piece_keep_ms (merge.h; the Redis script keeps its keys as long). */
static int64_t piece_expiry_ms(const char *name)
{
    const char *letter = memchr(PERIOD_LETTER, name[3], sizeof PERIOD_LETTER);
    char *end = NULL;
    if (letter == NULL || name[3] == '\0' || name[4] < '1' || name[4] > '9')
        return -1;
    const unsigned long long every = strtoull(name + 4, &end, 10);
    if (*end != 'x' || every > UINT32_MAX)
        return -1;
    const char *digits = end + 1;
    const long long start = strtoll(digits, &end, 10);
    if (end == digits || *end != '\0' || !(*digits == '-' || (*digits >= '0' && *digits <= '9')))
        return -1;
    const qk_period period = (qk_period)(letter - PERIOD_LETTER);
    if (period == QK_MONTH || period == QK_FOREVER)
        return -1;
    const int64_t span = qk__unit_ms(period) * (int64_t)every;
    return (int64_t)start + qk__store_piece_ms(span, QK__DDB_CLOCK_MS) +
           qk__store_piece_keep_ms(span, QK__DDB_CLOCK_MS);
}

int64_t qk__ddb_window_expiry_ms(const char *name)
{
    if (strncmp(name, "w_", 2) != 0)
        return -1;
    if (name[2] == 'r')
        return piece_expiry_ms(name);
    const char *letter = memchr(PERIOD_LETTER, name[2], sizeof PERIOD_LETTER);
    if (letter == NULL || name[2] == '\0')
        return -1;
    const char *digits = name + 3;
    char *end = NULL;
    uint32_t every = 1;
    const char *zone_at = strchr(digits, '@');
    const char *x =
        memchr(digits, 'x', zone_at != NULL ? (size_t)(zone_at - digits) : strlen(digits));
    if (x != NULL) { /* w_<letter><every>x<start> */
        const unsigned long long n = strtoull(digits, &end, 10);
        if (end != x || end == digits || *digits < '0' || *digits > '9' || n < 2 || n > UINT32_MAX)
            return -1;
        every = (uint32_t)n;
        digits = x + 1;
    }
    const long long start = strtoll(digits, &end, 10);
    const int zoned = *end == '@' && end[1] != '\0';
    if (end == digits || (*end != '\0' && !zoned) ||
        !(*digits == '-' || (*digits >= '0' && *digits <= '9')))
        return -1;
    const qk_period period = (qk_period)(letter - PERIOD_LETTER);
    if (zoned && period != QK_DAY && period != QK_WEEK && period != QK_MONTH)
        return -1;
    int64_t stop = qk__span_end(period, every, (int64_t)start);
    /* A zoned window's end is the zone's to say; the name does not carry the zone's rules, so
     * it is kept two days past the UTC span's end, more than any zone's offset and DST add. */
    if (zoned && stop != QK_NEVER)
        stop += 2 * INT64_C(86400000);
    if (period == QK_FOREVER || stop == QK_NEVER)
        return QK_NEVER;
    const int64_t keep = qk__store_retention_ms((int64_t)start, stop);
    return stop > QK_NEVER - keep ? QK_NEVER : stop + keep;
}

/* ---- encoding ---- */

static json_t *num(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    return json_pack("{s:s}", "N", s);
}

static char *dump(json_t *j)
{
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

char *qk__ddb_json_describe(const char *table)
{
    return dump(json_pack("{s:s}", "TableName", table));
}

char *qk__ddb_json_create_table(const char *table)
{
    return dump(json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s, s:s}], s:s}", "TableName", table,
                          "AttributeDefinitions", "AttributeName", "pk", "AttributeType", "S",
                          "KeySchema", "AttributeName", "pk", "KeyType", "HASH", "BillingMode",
                          "PAY_PER_REQUEST"));
}

int qk__ddb_json_table_active(const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *status = NULL;
    const int active = json_unpack(root, "{s:{s:s}}", "Table", "TableStatus", &status) == 0 &&
                       strcmp(status, "ACTIVE") == 0;
    json_decref(root);
    return active;
}

char *qk__ddb_json_get(const char *table, const char *service)
{
    return dump(json_pack("{s:s, s:{s:{s:s}}, s:b}", "TableName", table, "Key", "pk", "S", service,
                          "ConsistentRead", 1));
}

static json_t *encode_window(const qk__ddb_window *w)
{
    json_t *hosts = json_object();
    for (size_t i = 0; hosts != NULL && i < w->n_hosts; i++) {
        const qk__ddb_host *h = &w->hosts[i];
        json_t *m =
            json_pack("{s:{s:o, s:o, s:o, s:o, s:o}}", "M", "g", num(h->granted), "u", num(h->used),
                      "r", num(h->refunded), "x", num(h->released), "t", num((uint64_t)h->seen_ms));
        if (m == NULL || json_object_set_new(hosts, h->id, m) != 0) {
            json_decref(hosts);
            return NULL;
        }
    }
    if (hosts == NULL)
        return NULL;
    const uint64_t end = w->end_ms == QK_NEVER ? 0 : (uint64_t)w->end_ms;
    return json_pack("{s:{s:o, s:o, s:o, s:o, s:o, s:{s:o}}}", "M", "s", num((uint64_t)w->start_ms),
                     "e", num(end), "L", num(w->limit), "G", num(w->granted), "U", num(w->used),
                     "h", "M", hosts);
}

char *qk__ddb_json_put(const char *table, const char *service, const qk__ddb_item *it)
{
    json_t *item = json_pack("{s:{s:s}, s:o}", "pk", "S", service, "v", num(it->version + 1));
    for (size_t i = 0; item != NULL && i < it->n_windows; i++) {
        json_t *w = encode_window(&it->w[i]);
        if (w == NULL || json_object_set_new(item, it->w[i].name, w) != 0) {
            json_decref(item);
            item = NULL;
        }
    }
    if (item == NULL)
        return NULL;
    /* Optimistic concurrency: the write lands only on the version it was merged from. */
    if (it->exists)
        return dump(json_pack("{s:s, s:o, s:s, s:{s:s}, s:{s:o}}", "TableName", table, "Item", item,
                              "ConditionExpression", "#v = :v", "ExpressionAttributeNames", "#v",
                              "v", "ExpressionAttributeValues", ":v", num(it->version)));
    return dump(json_pack("{s:s, s:o, s:s}", "TableName", table, "Item", item,
                          "ConditionExpression", "attribute_not_exists(pk)"));
}

static void tomb_key(char *buf, size_t len, const char *service, const char *host)
{
    snprintf(buf, len, "%s/%s", service, host);
}

char *qk__ddb_json_get_tomb(const char *table, const char *service, const char *host)
{
    char pk[QK__DDB_TOMB_KEY_MAX];
    tomb_key(pk, sizeof pk, service, host);
    return qk__ddb_json_get(table, pk);
}

/* Appends text to the malloc'd string *buf of *cap bytes: 0, or -1 without memory. */
static int append(char **buf, size_t *cap, const char *text)
{
    const size_t used = strlen(*buf), n = strlen(text);
    if (used + n + 1 > *cap) {
        char *more = realloc(*buf, (used + n + 1) * 2);
        if (more == NULL)
            return -1;
        *buf = more;
        *cap = (used + n + 1) * 2;
    }
    memcpy(*buf + used, text, n + 1);
    return 0;
}

char *qk__ddb_json_put_tomb(const char *table, const char *service, const char *host,
                            uint64_t version, const qk__ddb_tomb_window *w, size_t n, int64_t ttl_s,
                            const char *const *old, size_t n_old, int exact)
{
    char pk[QK__DDB_TOMB_KEY_MAX], part[64];
    tomb_key(pk, sizeof pk, service, host);
    size_t cap = 64;
    char *expr = malloc(cap);
    json_t *names = json_pack("{s:s, s:s}", "#v", "v", "#t", "ttl");
    json_t *values = json_pack("{s:o}", ":v", num(version));
    int bad = expr == NULL || names == NULL || values == NULL;
    if (!bad)
        snprintf(expr, cap, "SET #v = :v");
    for (size_t i = 0; !bad && i < n; i++) {
        snprintf(part, sizeof part, ", #w%zu = :w%zu", i, i);
        bad = append(&expr, &cap, part) != 0;
        snprintf(part, sizeof part, "#w%zu", i);
        bad = bad || json_object_set_new(names, part, json_string(w[i].name)) != 0;
        part[0] = ':';
        bad = bad || json_object_set_new(values, part,
                                         json_pack("{s:{s:o, s:o, s:o, s:o}}", "M", "g",
                                                   num(w[i].granted), "x", num(w[i].released), "u",
                                                   num(w[i].used), "r", num(w[i].refunded))) != 0;
    }
    if (!bad && ttl_s > 0)
        bad = append(&expr, &cap, ", #t = :t") != 0 ||
              json_object_set_new(values, ":t", num((uint64_t)ttl_s)) != 0;
    /* REMOVE: the windows past their retention, and ttl when a window is kept forever. */
    if (!bad && (n_old > 0 || ttl_s <= 0))
        bad = append(&expr, &cap, " REMOVE ") != 0;
    for (size_t i = 0; !bad && i < n_old; i++) {
        snprintf(part, sizeof part, "%s#o%zu", i ? ", " : "", i);
        bad = append(&expr, &cap, part) != 0;
        snprintf(part, sizeof part, "#o%zu", i);
        bad = bad || json_object_set_new(names, part, json_string(old[i])) != 0;
    }
    if (!bad && ttl_s <= 0)
        bad = append(&expr, &cap, n_old ? ", #t" : "#t") != 0;
    char *out = NULL;
    if (!bad) {
        out = dump(json_pack("{s:s, s:{s:{s:s}}, s:s, s:s, s:o, s:o, s:s}", "TableName", table,
                             "Key", "pk", "S", pk, "UpdateExpression", expr, "ConditionExpression",
                             exact ? "#v = :v" : "attribute_not_exists(#v) OR #v < :v",
                             "ExpressionAttributeNames", names, "ExpressionAttributeValues", values,
                             "ReturnValues", "ALL_NEW"));
        names = values = NULL;
    }
    json_decref(names);
    json_decref(values);
    free(expr);
    return out;
}

/* ---- decoding ---- */

/* A DynamoDB number {"N":"123"} as a count. */
static int get_num(json_t *attr, uint64_t *out)
{
    const char *s = NULL;
    if (json_unpack(attr, "{s:s}", "N", &s) != 0 || json_object_size(attr) != 1)
        return -1;
    if (*s < '0' || *s > '9')
        return -1;
    char *end = NULL;
    const unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || strlen(s) > 19)
        return -1;
    *out = v;
    return 0;
}

static json_t *get_map(json_t *attr)
{
    json_t *m = json_object_get(attr, "M");
    return json_is_object(m) && json_object_size(attr) == 1 ? m : NULL;
}

static int foreign(const char *table, const char *service, const char *what)
{
    return qk__fail(QK_EIO,
                    "dynamodb table '%s': the item pk='%s' is not quotakeeper's (%s); nothing "
                    "was written to it",
                    table, service, what);
}

static int decode_window(json_t *m, qk__ddb_window *w, char *what, size_t what_len)
{
    uint64_t v[5];
    static const char *const names[5] = {"s", "e", "L", "G", "U"};
    for (int i = 0; i < 5; i++)
        if (get_num(json_object_get(m, names[i]), &v[i]) != 0) {
            snprintf(what, what_len, "%s.%s is not a count", w->name, names[i]);
            return -1;
        }
    json_t *hosts = get_map(json_object_get(m, "h"));
    if (hosts == NULL || json_object_size(m) != 6) {
        snprintf(what, what_len, "%s is not a window's map", w->name);
        return -1;
    }
    w->start_ms = (int64_t)v[0];
    w->end_ms = v[1] == 0 ? QK_NEVER : (int64_t)v[1];
    w->limit = v[2];
    w->granted = v[3];
    w->used = v[4];
    w->hosts = calloc(json_object_size(hosts) + 1, sizeof *w->hosts);
    if (w->hosts == NULL) {
        snprintf(what, what_len, "no memory");
        return -2;
    }
    const char *id;
    json_t *h;
    json_object_foreach(hosts, id, h)
    {
        qk__ddb_host *x = &w->hosts[w->n_hosts];
        json_t *hm = get_map(h);
        uint64_t t = 0;
        if (hm == NULL || strlen(id) >= sizeof x->id || json_object_size(hm) != 5 ||
            get_num(json_object_get(hm, "g"), &x->granted) != 0 ||
            get_num(json_object_get(hm, "u"), &x->used) != 0 ||
            get_num(json_object_get(hm, "r"), &x->refunded) != 0 ||
            get_num(json_object_get(hm, "x"), &x->released) != 0 ||
            get_num(json_object_get(hm, "t"), &t) != 0) {
            snprintf(what, what_len, "%s.h.%.40s is not a host's counters", w->name, id);
            return -1;
        }
        snprintf(x->id, sizeof x->id, "%s", id);
        x->seen_ms = (int64_t)t;
        w->n_hosts++;
    }
    return 0;
}

int qk__ddb_json_item(const char *body, size_t len, const char *table, const char *service,
                      qk__ddb_item *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return qk__fail(QK_EIO, "dynamodb GetItem on table '%s': the answer is not JSON (%s)",
                        table, jerr.text);
    }
    json_t *item = json_object_get(root, "Item");
    if (item == NULL) { /* no item yet: the service's first sync */
        json_decref(root);
        return QK_OK;
    }
    char what[256] = "";
    int rc = QK_OK;
    if (!json_is_object(item)) {
        rc = foreign(table, service, "Item is not a map");
        goto out;
    }
    out->exists = 1;
    if (get_num(json_object_get(item, "v"), &out->version) != 0) {
        rc = foreign(table, service, "no version attribute v");
        goto out;
    }
    out->w = calloc(json_object_size(item) + 1, sizeof *out->w);
    if (out->w == NULL) {
        rc = qk__fail(QK_ENOMEM, "dynamodb: no memory for an item");
        goto out;
    }
    const char *name;
    json_t *attr;
    json_object_foreach(item, name, attr)
    {
        if (strcmp(name, "pk") == 0 || strcmp(name, "v") == 0)
            continue;
        json_t *m = get_map(attr);
        if (strncmp(name, "w_", 2) != 0 || m == NULL || strlen(name) >= sizeof out->w[0].name) {
            snprintf(what, sizeof what, "an attribute '%.64s' of its own", name);
            rc = foreign(table, service, what);
            goto out;
        }
        qk__ddb_window *w = &out->w[out->n_windows++];
        snprintf(w->name, sizeof w->name, "%s", name);
        const int bad = decode_window(m, w, what, sizeof what);
        if (bad != 0) {
            rc = bad == -2 ? qk__fail(QK_ENOMEM, "dynamodb: no memory for an item")
                           : foreign(table, service, what);
            goto out;
        }
    }
out:
    json_decref(root);
    if (rc != QK_OK)
        qk__ddb_item_free(out);
    return rc;
}

int qk__ddb_json_tomb(const char *body, size_t len, const char *member, const char *table,
                      const char *service, const char *host, qk__ddb_tomb *out)
{
    memset(out, 0, sizeof *out);
    char pk[QK__DDB_TOMB_KEY_MAX];
    tomb_key(pk, sizeof pk, service, host);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return qk__fail(QK_EIO, "dynamodb tomb pk='%s' on table '%s': the answer is not JSON (%s)",
                        pk, table, jerr.text);
    }
    json_t *item = json_object_get(root, member);
    if (item == NULL) { /* no tomb: the host was never retired */
        json_decref(root);
        return QK_OK;
    }
    char what[256] = "";
    const char *s = NULL;
    if (!json_is_object(item) || json_unpack(json_object_get(item, "pk"), "{s:s}", "S", &s) != 0 ||
        strcmp(s, pk) != 0)
        snprintf(what, sizeof what, "no key pk='%.*s'", (int)strlen(pk), pk);
    else if (get_num(json_object_get(item, "v"), &out->version) != 0)
        snprintf(what, sizeof what, "no version attribute v");
    else if (json_object_get(item, "ttl") != NULL) {
        uint64_t ttl = 0;
        if (get_num(json_object_get(item, "ttl"), &ttl) != 0 || ttl == 0 || ttl > INT64_MAX)
            snprintf(what, sizeof what, "ttl is not a time");
        out->ttl_s = (int64_t)ttl;
    }
    if (what[0] == '\0' && (out->w = calloc(json_object_size(item) + 1, sizeof *out->w)) == NULL) {
        json_decref(root);
        return qk__fail(QK_ENOMEM, "dynamodb: no memory for a tomb");
    }
    const char *name;
    json_t *attr;
    json_object_foreach(item, name, attr)
    {
        if (what[0] != '\0')
            break;
        if (strcmp(name, "pk") == 0 || strcmp(name, "v") == 0 || strcmp(name, "ttl") == 0)
            continue;
        json_t *m = get_map(attr);
        qk__ddb_tomb_window *w = &out->w[out->n_windows];
        if (strncmp(name, "w_", 2) != 0 || m == NULL || strlen(name) >= sizeof w->name ||
            json_object_size(m) != 4 || get_num(json_object_get(m, "g"), &w->granted) != 0 ||
            get_num(json_object_get(m, "x"), &w->released) != 0 ||
            get_num(json_object_get(m, "u"), &w->used) != 0 ||
            get_num(json_object_get(m, "r"), &w->refunded) != 0) {
            snprintf(what, sizeof what, "an attribute '%.64s' that is not a window's g, x, u, r",
                     name);
            break;
        }
        snprintf(w->name, sizeof w->name, "%s", name);
        out->n_windows++;
    }
    json_decref(root);
    if (what[0] != '\0') {
        qk__ddb_tomb_free(out);
        return qk__fail(QK_EIO,
                        "dynamodb table '%s': the item pk='%s' is not quotakeeper's tomb (%s); "
                        "nothing was written to it",
                        table, pk, what);
    }
    out->exists = 1;
    return QK_OK;
}

int qk__ddb_json_check_table(const char *body, size_t len, const char *table)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *keys = NULL, *defs = NULL;
    const char *name = NULL, *kind = NULL;
    int ok = json_unpack(root, "{s:{s:o, s:o}}", "Table", "KeySchema", &keys,
                         "AttributeDefinitions", &defs) == 0 &&
             json_array_size(keys) == 1 &&
             json_unpack(json_array_get(keys, 0), "{s:s, s:s}", "AttributeName", &name, "KeyType",
                         &kind) == 0 &&
             strcmp(name, "pk") == 0 && strcmp(kind, "HASH") == 0;
    for (size_t i = 0; ok && i < json_array_size(defs); i++) {
        const char *an = NULL, *at = NULL;
        if (json_unpack(json_array_get(defs, i), "{s:s, s:s}", "AttributeName", &an,
                        "AttributeType", &at) == 0 &&
            strcmp(an, "pk") == 0)
            ok = strcmp(at, "S") == 0;
    }
    json_decref(root);
    if (!ok)
        return qk__fail(QK_EINVAL,
                        "dynamodb table '%s' does not have quotakeeper's key (pk, a string, as "
                        "its only key): use another table, made by qkctl store init",
                        table);
    return QK_OK;
}

void qk__ddb_json_error(const char *body, size_t len, char *type, size_t type_len, char *message,
                        size_t message_len)
{
    type[0] = message[0] = '\0';
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *t = NULL, *m = NULL;
    json_unpack(root, "{s?s}", "__type", &t);
    /* DynamoDB says "message"; some of its errors say "Message". */
    if (json_unpack(root, "{s?s}", "message", &m) != 0 || m == NULL)
        json_unpack(root, "{s?s}", "Message", &m);
    if (t != NULL) {
        const char *hash = strrchr(t, '#');
        snprintf(type, type_len, "%s", hash ? hash + 1 : t);
    }
    if (m != NULL)
        snprintf(message, message_len, "%s", m);
    json_decref(root);
}
