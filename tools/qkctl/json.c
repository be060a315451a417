/* JSON output (json.h). */
#include "json.h"

#include <jansson.h>
#include <stdio.h>

#include "qkctl.h"
#include "timefmt.h"

/* A string as JSON. jansson takes UTF-8 only; a path or message with other bytes keeps its
 * ASCII and shows '?' for each byte above it, rather than vanish from the document. */
static json_t *text(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char buf[1024];
    size_t i = 0;
    for (; s[i] != '\0' && i < sizeof buf - 1; i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    buf[i] = '\0';
    return json_string(buf);
}

/* A count as a JSON integer. jansson's integers are signed 64-bit: a count above 2^63-1 (only
 * qk_set_used or a huge qk_record can make one) goes out as a decimal string rather than be
 * rounded through a double. */
static json_t *count(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_string(buf);
}

/* A time: its ISO 8601 text and its milliseconds, both null for QK_NEVER. */
static void put_time(json_t *o, const char *key, const char *key_ms, int64_t ms)
{
    char buf[32];
    if (ms == QK_NEVER) {
        json_object_set_new(o, key, json_null());
        json_object_set_new(o, key_ms, json_null());
    } else {
        json_object_set_new(o, key, json_string(qkctl_iso8601(ms, buf)));
        json_object_set_new(o, key_ms, json_integer(ms));
    }
}

static json_t *window(const qk_window_usage *w, const qk_window_def *def, unsigned index,
                      int64_t now_ms)
{
    json_t *o = json_object();
    char shape[QKCTL_SHAPE_MAX];
    json_object_set_new(o, "index", json_integer(index));
    json_object_set_new(o, "period", json_string(qkctl_period_name(w->period)));
    /* The shape (qk_window_get): "length_ms" is 0 where the length is not fixed (months,
     * forever, and a zoned day, whose DST days last 23 or 25 hours); "tz" is null for UTC. */
    json_object_set_new(o, "shape", json_string(qkctl_shape_text(def, shape)));
    json_object_set_new(o, "every", json_integer(def->every > 1 ? def->every : 1));
    json_object_set_new(o, "length_ms", json_integer(qkctl_window_length_ms(def)));
    json_object_set_new(o, "offset_ms", json_integer(def->offset_ms));
    json_object_set_new(o, "rolling", json_boolean(def->flags & QK_WINDOW_ROLLING));
    json_object_set_new(o, "tz", def->tz != NULL ? json_string(def->tz) : json_null());
    json_object_set_new(o, "used", count(w->used));
    json_object_set_new(o, "limit", count(w->limit));
    json_object_set_new(o, "remaining", count(w->remaining));
    json_object_set_new(o, "level", json_string(qk_level_name(w->level)));
    /* A window that never resets has no start either (the library gives it INT64_MIN). */
    put_time(o, "window_start", "window_start_ms",
             w->period == QK_FOREVER ? QK_NEVER : w->window_start_ms);
    put_time(o, "reset_at", "reset_at_ms", w->reset_at_ms);
    if (w->reset_at_ms == QK_NEVER)
        json_object_set_new(o, "resets_in_s", json_null());
    else
        json_object_set_new(
            o, "resets_in_s",
            json_integer(w->reset_at_ms > now_ms ? (w->reset_at_ms - now_ms + 999) / 1000 : 0));
    return o;
}

static json_t *service(const qk_usage *u, const qkctl_shapes *shapes, int64_t now_ms)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", text(u->name));
    json_object_set_new(o, "level", json_string(qk_level_name(u->level)));
    json_object_set_new(o, "remaining", count(u->remaining));
    put_time(o, "reset_at", "reset_at_ms", u->reset_at_ms);
    json_t *ws = json_array();
    for (unsigned w = 0; w < u->n_windows; w++)
        json_array_append_new(ws, window(&u->windows[w], &shapes->w[w], w, now_ms));
    json_object_set_new(o, "windows", ws);
    return o;
}

static int dump(json_t *doc)
{
    /* Keys in insertion order, two-space indent: stable output a person can read too. */
    const int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        qkctl_error("cannot write the JSON output");
        return -1;
    }
    return 0;
}

int qkctl_json_cut(const qkctl_cut *c, const char *path)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "file", text(path));
    put_time(doc, "taken_at", "taken_at_ms", c->now_ms);
    json_t *svcs = json_array();
    for (size_t i = 0; i < c->n; i++)
        json_array_append_new(svcs, service(&c->u[i], &c->shapes[i], c->now_ms));
    json_object_set_new(doc, "services", svcs);
    return dump(doc);
}

void qkctl_json_error(int code, const char *message)
{
    json_t *err = json_object();
    json_object_set_new(err, "code", json_string(qk_err_name(code)));
    json_object_set_new(err, "value", json_integer(code));
    json_object_set_new(err, "message", text(message));
    json_t *doc = json_object();
    json_object_set_new(doc, "error", err);
    dump(doc);
}
