/* Table output (table.h). Widths are measured on the plain text and colour codes wrap the
 * padded cell, so columns line up with and without colour. */
#include "table.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esc.h"
#include "timefmt.h"

enum { COLS = 8 };

static const char *const heads[COLS] = {"SERVICE", "WINDOW",          "USED", "LIMIT", "REMAINING",
                                        "LEVEL",   "RESETS AT (UTC)", "IN"};
/* Numbers align right, words left. */
static const bool right[COLS] = {false, false, true, true, true, false, false, false};

bool qkctl_use_color(FILE *out)
{
    const char *no = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    if (no != NULL && no[0] != '\0')
        return false;
    if (term != NULL && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fileno(out)) == 1;
}

static const char *level_color(qk_level l)
{
    switch (l) {
    case QK_LEVEL_OK:
        return "\033[32m"; /* green */
    case QK_LEVEL_WARN:
        return "\033[33m"; /* yellow */
    case QK_LEVEL_CRITICAL:
        return "\033[31m"; /* red */
    case QK_LEVEL_EXHAUSTED:
        return "\033[1;31m"; /* bold red */
    }
    return "";
}

typedef struct {
    char cell[COLS][QKCTL_ESC_SIZE(QK_NAME_MAX)]; /* the name, escaped, is the longest */
    qk_level level;
} row;

static void fill(row *r, const qk_usage *u, const qk_window_def *def, unsigned w, int64_t now_ms)
{
    const qk_window_usage *wu = &u->windows[w];
    qkctl_esc(r->cell[0], sizeof r->cell[0], u->name);
    qkctl_shape_text(def, r->cell[1]); /* "minute", "15 minutes", "day @07:00" */
    snprintf(r->cell[2], sizeof r->cell[2], "%" PRIu64, wu->used);
    snprintf(r->cell[3], sizeof r->cell[3], "%" PRIu64, wu->limit);
    snprintf(r->cell[4], sizeof r->cell[4], "%" PRIu64, wu->remaining);
    snprintf(r->cell[5], sizeof r->cell[5], "%s", qk_level_name(wu->level));
    qkctl_iso8601(wu->reset_at_ms, r->cell[6]);
    qkctl_duration(now_ms, wu->reset_at_ms, r->cell[7]);
    r->level = wu->level;
}

void qkctl_table_print(FILE *out, const qkctl_cut *c, bool color)
{
    size_t n_rows = 0;
    for (size_t i = 0; i < c->n; i++)
        n_rows += c->u[i].n_windows;
    row *rows = calloc(n_rows ? n_rows : 1, sizeof *rows);
    if (rows == NULL) {
        fprintf(out, "(out of memory)\n");
        return;
    }
    size_t width[COLS];
    for (int k = 0; k < COLS; k++)
        width[k] = strlen(heads[k]);
    size_t r = 0;
    for (size_t i = 0; i < c->n; i++) {
        for (unsigned w = 0; w < c->u[i].n_windows; w++, r++) {
            fill(&rows[r], &c->u[i], &c->shapes[i].w[w], w, c->now_ms);
            for (int k = 0; k < COLS; k++) {
                const size_t len = strlen(rows[r].cell[k]);
                if (len > width[k])
                    width[k] = len;
            }
        }
    }
    for (int k = 0; k < COLS - 1; k++)
        fprintf(out, "%s%*s", k ? "  " : "", right[k] ? (int)width[k] : -(int)width[k], heads[k]);
    fprintf(out, "  %s\n", heads[COLS - 1]);
    for (r = 0; r < n_rows; r++) {
        for (int k = 0; k < COLS; k++) {
            const bool paint = color && k == 5;
            const int wd = right[k] ? (int)width[k] : -(int)width[k];
            /* The last column is not padded: no trailing blanks on a line. */
            if (k == COLS - 1)
                fprintf(out, "  %s", rows[r].cell[k]);
            else
                fprintf(out, "%s%s%*s%s", k ? "  " : "", paint ? level_color(rows[r].level) : "",
                        wd, rows[r].cell[k], paint ? "\033[0m" : "");
        }
        fputc('\n', out);
    }
    if (c->n == 0)
        fprintf(out, "(no services in the file)\n");
    free(rows);
}

void qkctl_usage_print(FILE *out, const qk_usage *u, int64_t now_ms)
{
    for (unsigned w = 0; w < u->n_windows; w++) {
        const qk_window_usage *wu = &u->windows[w];
        char at[32], in[32], name[QKCTL_ESC_SIZE(QK_NAME_MAX)];
        qkctl_esc(name, sizeof name, u->name);
        fprintf(out, "%s %s: %" PRIu64 "/%" PRIu64 " used, %" PRIu64 " left, %s, resets %s", name,
                qkctl_period_name(wu->period), wu->used, wu->limit, wu->remaining,
                qk_level_name(wu->level), qkctl_iso8601(wu->reset_at_ms, at));
        if (wu->reset_at_ms != QK_NEVER)
            fprintf(out, " (in %s)", qkctl_duration(now_ms, wu->reset_at_ms, in));
        fputc('\n', out);
    }
}
