/* Taking and narrowing a cut (cut.h). */
#include "cut.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t qkctl_now_ms(void)
{
    /* The library's default clock (coarse): read with the precise one, a reset time a few ms
     * after a refusal at a window's last moment printed as "now". */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int take_shapes(qk_tracker *t, qkctl_cut *c)
{
    c->shapes = calloc(c->n ? c->n : 1, sizeof *c->shapes);
    if (c->shapes == NULL) {
        qkctl_cut_free(c);
        c->code = QK_ENOMEM;
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return c->code;
    }
    for (size_t i = 0; i < c->n; i++) {
        for (unsigned w = 0; w < c->u[i].n_windows; w++) {
            qk_window_def *d = &c->shapes[i].w[w];
            const int rc = qk_window_get(t, c->u[i].service, w, d);
            if (rc != QK_OK) {
                snprintf(c->msg, sizeof c->msg, "%s", qk_errmsg());
                qkctl_cut_free(c);
                c->code = rc;
                return rc;
            }
            if (d->tz != NULL) { /* the tracker's: copied, as the cut outlives it */
                snprintf(c->shapes[i].tz[w], sizeof c->shapes[i].tz[w], "%s", d->tz);
                d->tz = c->shapes[i].tz[w];
            }
        }
    }
    return QK_OK;
}

int qkctl_cut_take(qk_tracker *t, qkctl_cut *c)
{
    memset(c, 0, sizeof *c);
    /* Another process may add services between asking the count and taking the cut: ask
     * again with the larger count until the cut fits. */
    size_t cap = qk_service_count(t) + 4;
    for (;;) {
        qk_usage *u = calloc(cap, sizeof *u);
        if (u == NULL) {
            c->code = QK_ENOMEM;
            snprintf(c->msg, sizeof c->msg, "out of memory for %zu services", cap);
            return c->code;
        }
        size_t n = 0;
        const int rc = qk_snapshot(t, u, cap, &n);
        if (rc == QK_OK) {
            c->u = u;
            c->n = n;
            c->now_ms = qkctl_now_ms();
            return take_shapes(t, c);
        }
        free(u);
        if (rc != QK_ERANGE) {
            c->code = rc;
            snprintf(c->msg, sizeof c->msg, "%s", qk_errmsg());
            return rc;
        }
        cap = n + 4;
    }
}

int qkctl_cut_select(qkctl_cut *c, char *const *names, int n)
{
    if (n == 0)
        return QK_OK;
    qk_usage *sel = calloc((size_t)n, sizeof *sel);
    qkctl_shapes *sel_shapes = calloc((size_t)n, sizeof *sel_shapes);
    if (sel == NULL || sel_shapes == NULL) {
        free(sel);
        free(sel_shapes);
        c->code = QK_ENOMEM;
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return c->code;
    }
    for (int i = 0; i < n; i++) {
        size_t k = 0;
        while (k < c->n && strcmp(c->u[k].name, names[i]) != 0)
            k++;
        if (k == c->n) {
            free(sel);
            free(sel_shapes);
            int len =
                snprintf(c->msg, sizeof c->msg, "no service '%s' in the file; it has:", names[i]);
            for (size_t j = 0; j < c->n && len > 0 && (size_t)len < sizeof c->msg; j++)
                len += snprintf(c->msg + len, sizeof c->msg - (size_t)len, "%s %s", j ? "," : "",
                                c->u[j].name);
            if (c->n == 0)
                snprintf(c->msg + len, sizeof c->msg - (size_t)len, " no services");
            c->code = QK_ENOENT;
            return c->code;
        }
        sel[i] = c->u[k];
        sel_shapes[i] = c->shapes[k];
    }
    free(c->u);
    free(c->shapes);
    c->u = sel;
    c->shapes = sel_shapes;
    c->n = (size_t)n;
    return QK_OK;
}

void qkctl_cut_free(qkctl_cut *c)
{
    free(c->u);
    free(c->shapes);
    c->u = NULL;
    c->shapes = NULL;
    c->n = 0;
}
