/* The changing subcommands: reset, set, refund, record, consume, the library's operations for
 * shell scripts. Arguments are checked before the file is opened, so a bad command line never
 * touches it; each command then reports the service's windows as the operation left them. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cut.h"
#include "esc.h"
#include "open.h"
#include "qkctl.h"
#include "table.h"
#include "timefmt.h"

/* Opens the file as a writer; prints why not. */
static int open_rw(const qkctl_target *tg, qkctl_tracker *tk)
{
    if (qkctl_open(tg, false, tk) == QK_OK)
        return 0;
    qkctl_error("%s", tk->msg);
    return -1;
}

/* The service's index; prints the file's services when it has none of that name. */
static int find(qkctl_tracker *tk, const char *name, qk_service *s)
{
    if (qk_service_find(tk->t, name, s) == QK_OK)
        return 0;
    qkctl_cut c;
    if (qkctl_cut_take(tk->t, &c) == QK_OK && qkctl_cut_select(&c, (char *const *)&name, 1) != 0)
        qkctl_error("%s", c.msg);
    else
        qkctl_error("no service '%s' in the file", name);
    qkctl_cut_free(&c);
    return -1;
}

static int report(qkctl_tracker *tk, qk_service s)
{
    qk_usage u;
    if (qk_peek(tk->t, s, &u) != QK_OK) {
        qkctl_error("%s", qk_errmsg());
        return QKCTL_ERROR;
    }
    qkctl_usage_print(stdout, &u, qkctl_now_ms());
    return fflush(stdout) == 0 ? QKCTL_OK : QKCTL_ERROR;
}

/* Parses "SERVICE N" (N >= 1) for record, refund and consume. */
static int service_and_n(int argc, char **argv, const qkctl_opt *opts, size_t n_opts,
                         const char **name, uint64_t *n)
{
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, opts, n_opts, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    if (n_pos != 2) {
        /* QKCTL_USAGE spelled here, not taken from qkctl_usage_error (another file): the callers
         * read *name only after a 0, and the compiler must see that no failure returns 0. */
        qkctl_usage_error("%s takes SERVICE N, got %d argument%s", argv[0], n_pos,
                          n_pos == 1 ? "" : "s");
        return QKCTL_USAGE;
    }
    *name = pos[0];
    return qkctl_parse_count(pos[1], "N", 1, n);
}

int qkctl_cmd_record(const qkctl_target *tg, int argc, char **argv)
{
    const char *name;
    uint64_t n;
    if (service_and_n(argc, argv, NULL, 0, &name, &n) != 0)
        return QKCTL_USAGE;
    qkctl_tracker tk;
    qk_service s;
    if (open_rw(tg, &tk) != 0)
        return QKCTL_ERROR;
    int rc = QKCTL_ERROR;
    if (find(&tk, name, &s) == 0) {
        if (qk_record(tk.t, s, n, NULL) == QK_OK)
            rc = report(&tk, s);
        else
            qkctl_error("record %s %" PRIu64 ": %s", name, n, qk_errmsg());
    }
    qkctl_close(&tk);
    return rc;
}

int qkctl_cmd_refund(const qkctl_target *tg, int argc, char **argv)
{
    const char *name;
    uint64_t n;
    if (service_and_n(argc, argv, NULL, 0, &name, &n) != 0)
        return QKCTL_USAGE;
    qkctl_tracker tk;
    qk_service s;
    if (open_rw(tg, &tk) != 0)
        return QKCTL_ERROR;
    int rc = QKCTL_ERROR;
    if (find(&tk, name, &s) == 0) {
        if (qk_refund(tk.t, s, n) == QK_OK)
            rc = report(&tk, s);
        else
            qkctl_error("refund %s %" PRIu64 ": %s", name, n, qk_errmsg());
    }
    qkctl_close(&tk);
    return rc;
}

/* Why a consume was refused, from the usage it returned: the window that refused, its count,
 * and when it resets. */
static void print_refusal(const qk_usage *u, uint64_t n, bool priority, int64_t now_ms)
{
    const qk_window_usage *w = &u->windows[u->tripped >= 0 ? u->tripped : 0];
    char at[32], in[32], name[QKCTL_ESC_SIZE(QK_NAME_MAX)];
    qkctl_esc(name, sizeof name, u->name);
    printf("refused: %s %" PRIu64 " would exceed its %s window (window %d): %" PRIu64 "/%" PRIu64
           " used, %" PRIu64 " left",
           name, n, qkctl_period_name(w->period), u->tripped, w->used, w->limit, w->remaining);
    if (!priority && n <= w->remaining)
        printf(" (the rest is the reserve, for --priority)");
    printf("\n");
    if (w->reset_at_ms == QK_NEVER)
        printf("it never resets\n");
    else
        printf("resets at %s (in %s)\n", qkctl_iso8601(w->reset_at_ms, at),
               qkctl_duration(now_ms, w->reset_at_ms, in));
}

int qkctl_cmd_consume(const qkctl_target *tg, int argc, char **argv)
{
    bool priority = false;
    const qkctl_opt opts[] = {{"--priority", &priority, NULL}};
    const char *name;
    uint64_t n;
    if (service_and_n(argc, argv, opts, 1, &name, &n) != 0)
        return QKCTL_USAGE;
    qkctl_tracker tk;
    qk_service s;
    if (open_rw(tg, &tk) != 0)
        return QKCTL_ERROR;
    int rc = QKCTL_ERROR;
    if (find(&tk, name, &s) == 0) {
        qk_usage u;
        const int got = qk_try_consume(tk.t, s, n, priority ? QK_PRIORITY : 0, &u);
        if (got == QK_OK) {
            char shown[QKCTL_ESC_SIZE(QK_NAME_MAX)];
            qkctl_esc(shown, sizeof shown, u.name);
            printf("granted: %s %" PRIu64 "\n", shown, n);
            qkctl_usage_print(stdout, &u, qkctl_now_ms());
            rc = fflush(stdout) == 0 ? QKCTL_OK : QKCTL_ERROR;
        } else if (got == QK_ELIMIT) {
            print_refusal(&u, n, priority, qkctl_now_ms());
            fflush(stdout);
            rc = QKCTL_REFUSED;
        } else {
            qkctl_error("consume %s %" PRIu64 ": %s", name, n, qk_errmsg());
        }
    }
    qkctl_close(&tk);
    return rc;
}

int qkctl_cmd_reset(const qkctl_target *tg, int argc, char **argv)
{
    bool all = false;
    const qkctl_opt opts[] = {{"--all", &all, NULL}};
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, opts, 1, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    if (all && n_pos != 0)
        return qkctl_usage_error("reset takes SERVICE or --all, not both");
    if (!all && n_pos != 1)
        return qkctl_usage_error("reset takes one SERVICE, or --all for every service");
    qkctl_tracker tk;
    if (open_rw(tg, &tk) != 0)
        return QKCTL_ERROR;
    int rc = QKCTL_ERROR;
    if (all) {
        qkctl_cut c;
        if (qk_reset_all(tk.t) != QK_OK) {
            qkctl_error("reset --all: %s", qk_errmsg());
        } else if (qkctl_cut_take(tk.t, &c) != QK_OK) {
            qkctl_error("%s", c.msg);
        } else {
            for (size_t i = 0; i < c.n; i++)
                qkctl_usage_print(stdout, &c.u[i], c.now_ms);
            qkctl_cut_free(&c);
            rc = fflush(stdout) == 0 ? QKCTL_OK : QKCTL_ERROR;
        }
    } else {
        qk_service s;
        if (find(&tk, pos[0], &s) == 0) {
            if (qk_reset(tk.t, s) == QK_OK)
                rc = report(&tk, s);
            else
                qkctl_error("reset %s: %s", pos[0], qk_errmsg());
        }
    }
    qkctl_close(&tk);
    return rc;
}

/* WINDOW is an index (0, 1, ...) or a period name the service has ("minute"). */
static int window_of(qkctl_tracker *tk, qk_service s, const char *arg, unsigned *w)
{
    qk_usage u;
    if (qk_peek(tk->t, s, &u) != QK_OK) {
        qkctl_error("%s", qk_errmsg());
        return -1;
    }
    char have[128] = "";
    size_t len = 0;
    for (unsigned k = 0; k < u.n_windows && len < sizeof have; k++)
        len += (size_t)snprintf(have + len, sizeof have - len, "%s%u (%s)", k ? ", " : "", k,
                                qkctl_period_name(u.windows[k].period));
    if (arg[0] >= '0' && arg[0] <= '9') {
        uint64_t idx = 0;
        if (qkctl_parse_count(arg, "WINDOW", 0, &idx) != 0)
            return -1;
        if (idx >= u.n_windows) {
            qkctl_error("window %s is out of range: %s has window%s %s", arg, u.name,
                        u.n_windows == 1 ? "" : "s", have);
            return -1;
        }
        *w = (unsigned)idx;
        return 0;
    }
    for (unsigned k = 0; k < u.n_windows; k++) {
        if (strcmp(arg, qkctl_period_name(u.windows[k].period)) == 0) {
            *w = k;
            return 0;
        }
    }
    qkctl_error("%s has no window '%s'; it has %s", u.name, arg, have);
    return -1;
}

int qkctl_cmd_set(const qkctl_target *tg, int argc, char **argv)
{
    char *pos[argc];
    int n_pos = 0;
    if (qkctl_args(argc, argv, NULL, 0, pos, &n_pos) != 0)
        return QKCTL_USAGE;
    if (n_pos != 3)
        return qkctl_usage_error("set takes SERVICE WINDOW USED, got %d argument%s", n_pos,
                                 n_pos == 1 ? "" : "s");
    uint64_t used;
    if (qkctl_parse_count(pos[2], "USED", 0, &used) != 0)
        return QKCTL_USAGE;
    /* A negative or malformed index is a usage error before the file is opened; whether it is
     * in range depends on the service, known only once it is. */
    if (pos[1][0] == '-' || (pos[1][0] >= '0' && pos[1][0] <= '9')) {
        uint64_t idx;
        if (qkctl_parse_count(pos[1], "WINDOW", 0, &idx) != 0)
            return QKCTL_USAGE;
    }
    qkctl_tracker tk;
    qk_service s;
    unsigned w = 0;
    if (open_rw(tg, &tk) != 0)
        return QKCTL_ERROR;
    int rc = QKCTL_ERROR;
    if (find(&tk, pos[0], &s) == 0 && window_of(&tk, s, pos[1], &w) == 0) {
        if (qk_set_used(tk.t, s, w, used) == QK_OK)
            rc = report(&tk, s);
        else
            qkctl_error("set %s %s %s: %s", pos[0], pos[1], pos[2], qk_errmsg());
    }
    qkctl_close(&tk);
    return rc;
}
