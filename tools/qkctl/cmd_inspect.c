/* The inspecting subcommands: show, watch, metrics. Each opens the file with QK_OPEN_READONLY
 * (open.h), so none of them can create, configure or change it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cut.h"
#include "esc.h"
#include "json.h"
#include "metrics.h"
#include "open.h"
#include "qkctl.h"
#include "table.h"
#include "timefmt.h"

/* Opens read-only and takes a cut of the named services; prints the failure (as JSON when
 * json) and returns QKCTL_ERROR, or 0 with *tk open and *c taken. */
static int open_and_cut(const qkctl_target *tg, char **names, int n, bool json, qkctl_tracker *tk,
                        qkctl_cut *c)
{
    int code = qkctl_open(tg, true, tk);
    const char *msg = tk->msg;
    if (code == QK_OK) {
        code = qkctl_cut_take(tk->t, c);
        if (code == QK_OK)
            code = qkctl_cut_select(c, names, n);
        msg = c->msg;
        if (code != QK_OK) {
            qkctl_cut_free(c);
            qkctl_close(tk);
        }
    }
    if (code == QK_OK)
        return 0;
    qkctl_error("%s", msg);
    if (json)
        qkctl_json_error(code, msg);
    return QKCTL_ERROR;
}

int qkctl_cmd_show(const qkctl_target *tg, int argc, char **argv)
{
    bool json = false;
    const qkctl_opt opts[] = {{"--json", &json, NULL}};
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, opts, 1, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    qkctl_tracker tk;
    qkctl_cut c;
    if (open_and_cut(tg, pos, n_pos, json, &tk, &c) != 0)
        return QKCTL_ERROR;
    int rc = QKCTL_OK;
    if (json) {
        rc = qkctl_json_cut(&c, tk.path) == 0 ? QKCTL_OK : QKCTL_ERROR;
    } else {
        qkctl_table_print(stdout, &c, qkctl_use_color(stdout));
        if (fflush(stdout) != 0)
            rc = QKCTL_ERROR;
    }
    qkctl_cut_free(&c);
    qkctl_close(&tk);
    return rc;
}

int qkctl_cmd_metrics(const qkctl_target *tg, int argc, char **argv)
{
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, NULL, 0, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    qkctl_tracker tk;
    qkctl_cut c;
    if (open_and_cut(tg, pos, n_pos, false, &tk, &c) != 0)
        return QKCTL_ERROR;
    qkctl_metrics_write(stdout, &c);
    const int rc = fflush(stdout) == 0 ? QKCTL_OK : QKCTL_ERROR;
    qkctl_cut_free(&c);
    qkctl_close(&tk);
    return rc;
}

/* The alternate screen keeps the user's scrollback as it was; the cursor is hidden while the
 * table redraws. Both are undone on every way out. */
#define SCREEN_ENTER "\033[?1049h\033[?25l"
#define SCREEN_LEAVE "\033[?25h\033[?1049l"
#define SCREEN_HOME  "\033[H\033[J"

int qkctl_cmd_watch(const qkctl_target *tg, int argc, char **argv)
{
    const char *interval_s = NULL, *count_s = NULL;
    const qkctl_opt opts[] = {{"--interval", NULL, &interval_s}, {"--count", NULL, &count_s}};
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, opts, 2, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    int64_t interval_ms = 2000;
    uint64_t count = 0; /* 0: until a signal */
    if (interval_s != NULL &&
        qkctl_parse_seconds(interval_s, "--interval", 100, 86400000, &interval_ms) != 0)
        return QKCTL_USAGE;
    if (count_s != NULL && qkctl_parse_count(count_s, "--count", 1, &count) != 0)
        return QKCTL_USAGE;

    /* Ctrl-C and kill are waited for, never handled asynchronously: blocked here and taken
     * with sigtimedwait between two refreshes, so the loop ends where it restores the screen. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, &old);

    qkctl_tracker tk;
    qkctl_cut c;
    int rc = QKCTL_OK;
    if (open_and_cut(tg, pos, n_pos, false, &tk, &c) != 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return QKCTL_ERROR;
    }
    const char *term = getenv("TERM");
    const bool tty = isatty(fileno(stdout)) == 1 && !(term != NULL && strcmp(term, "dumb") == 0);
    const bool color = qkctl_use_color(stdout);
    char failure[sizeof c.msg] = "";
    if (tty)
        fputs(SCREEN_ENTER, stdout);
    for (uint64_t round = 1;; round++) {
        char at[32];
        fputs(tty ? SCREEN_HOME : (round > 1 ? "\n" : ""), stdout);
        qkctl_fputs_esc(tk.path, stdout);
        fprintf(stdout, " every %lld.%03llds at %s (Ctrl-C to stop)\n\n",
                (long long)(interval_ms / 1000), (long long)(interval_ms % 1000),
                qkctl_iso8601(c.now_ms, at));
        qkctl_table_print(stdout, &c, color);
        fflush(stdout);
        qkctl_cut_free(&c);
        if (count != 0 && round >= count)
            break;
        const struct timespec wait = {(time_t)(interval_ms / 1000),
                                      (long)(interval_ms % 1000) * 1000000L};
        if (sigtimedwait(&stop, NULL, &wait) >= 0)
            break; /* asked to stop: a clean end */
        /* Services never leave a file, so a selection that held once still holds. */
        if (qkctl_cut_take(tk.t, &c) != QK_OK || qkctl_cut_select(&c, pos, n_pos) != QK_OK) {
            snprintf(failure, sizeof failure, "%s", c.msg);
            qkctl_cut_free(&c);
            rc = QKCTL_ERROR;
            break;
        }
    }
    if (tty)
        fputs(SCREEN_LEAVE, stdout);
    fflush(stdout);
    if (rc != QKCTL_OK)
        qkctl_error("%s", failure); /* after leaving the screen, where it stays readable */
    qkctl_close(&tk);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}
