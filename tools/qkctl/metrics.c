/* Prometheus text format (metrics.h). Every metric is a gauge: each is a value of the current
 * window that a reset or a rollover lowers, which a counter must never do. Series are labelled
 * by service and window (the period name); a period that a service has twice is told apart by
 * its position ("minute_2"), so no two series share their labels. */
#include "metrics.h"

#include <inttypes.h>
#include <string.h>

#include "timefmt.h"

/* Label values escape backslash, double quote and newline (the format's rule); service names
 * cannot hold them today, but the file is read, not trusted. */
static void label_value(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* {service, window, shape}: window keeps 0.2's value (the period, _2 for its second window of
 * that period), so existing queries and alerts keep matching; shape tells windows of one
 * period apart ("15m", "1d@07:00"). */
static void window_label(FILE *out, const qk_usage *u, const qk_window_def *def, unsigned w)
{
    char shape[QKCTL_SHAPE_MAX];
    const qk_period p = u->windows[w].period;
    unsigned nth = 1;
    for (unsigned k = 0; k < w; k++)
        nth += u->windows[k].period == p;
    fputs("{service=\"", out);
    label_value(out, u->name);
    fprintf(out, "\",window=\"%s", qkctl_period_name(p));
    if (nth > 1)
        fprintf(out, "_%u", nth);
    fprintf(out, "\",shape=\"%s\"}", qkctl_shape_label(def, shape));
}

typedef enum { USED, LIMIT, REMAINING, LEVEL, START, RESET } field;

static const struct {
    const char *name, *help;
} metrics[] = {
    [USED] = {"quotakeeper_used", "Calls counted in the current window."},
    [LIMIT] = {"quotakeeper_limit", "Calls the window allows."},
    [REMAINING] =
        {"quotakeeper_remaining",
         "Calls left in the window: limit - used, 0 when over (the reserve is part of it)."},
    [LEVEL] = {"quotakeeper_level", "The window's level: 0 ok, 1 warn, 2 critical, 3 exhausted."},
    [START] = {"quotakeeper_window_start_timestamp_seconds",
               "When the current window began, in seconds since the Unix epoch; -Inf for a window "
               "that never resets."},
    [RESET] = {"quotakeeper_reset_timestamp_seconds",
               "When the current window ends and its count starts over, in seconds since the "
               "Unix epoch; +Inf for a window that never resets."},
};

/* Milliseconds as seconds with three decimals, exactly (no double rounding). */
static void seconds(FILE *out, int64_t ms)
{
    const uint64_t mag = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    fprintf(out, " %s%" PRIu64 ".%03" PRIu64 "\n", ms < 0 ? "-" : "", mag / 1000, mag % 1000);
}

static void value(FILE *out, field f, const qk_window_usage *w)
{
    switch (f) {
    case USED:
        fprintf(out, " %" PRIu64 "\n", w->used);
        break;
    case LIMIT:
        fprintf(out, " %" PRIu64 "\n", w->limit);
        break;
    case REMAINING:
        fprintf(out, " %" PRIu64 "\n", w->remaining);
        break;
    case LEVEL:
        fprintf(out, " %d\n", (int)w->level);
        break;
    case START:
        /* A window that never resets never began either: the library gives it the earliest
         * time there is. */
        if (w->period == QK_FOREVER)
            fputs(" -Inf\n", out);
        else
            seconds(out, w->window_start_ms);
        break;
    case RESET:
        if (w->reset_at_ms == QK_NEVER)
            fputs(" +Inf\n", out);
        else
            seconds(out, w->reset_at_ms);
        break;
    }
}

void qkctl_metrics_write(FILE *out, const qkctl_cut *c)
{
    fputs("# HELP quotakeeper_services Services in the state file.\n"
          "# TYPE quotakeeper_services gauge\n",
          out);
    fprintf(out, "quotakeeper_services %zu\n", c->n);
    for (size_t f = 0; f < sizeof metrics / sizeof metrics[0]; f++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", metrics[f].name, metrics[f].help,
                metrics[f].name);
        for (size_t i = 0; i < c->n; i++) {
            for (unsigned w = 0; w < c->u[i].n_windows; w++) {
                fputs(metrics[f].name, out);
                window_label(out, &c->u[i], &c->shapes[i].w[w], w);
                value(out, (field)f, &c->u[i].windows[w]);
            }
        }
    }
}
