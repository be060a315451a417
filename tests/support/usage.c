#include "usage.h"

#include <stdio.h>
#include <string.h>

#include "fail.h"

qk_service_def qkt_svc_def(const char *name, qk_period p0, uint64_t l0, qk_period p1, uint64_t l1)
{
    qk_service_def d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.windows[0].period = p0;
    d.windows[0].limit = l0;
    d.windows[1].period = p1;
    d.windows[1].limit = l1;
    return d;
}

bool qkt_usage_eq(const qk_usage *a, const qk_usage *b)
{
    if (a->service != b->service || strcmp(a->name, b->name) != 0 || a->level != b->level ||
        a->remaining != b->remaining || a->reset_at_ms != b->reset_at_ms ||
        a->tripped != b->tripped || a->n_windows != b->n_windows)
        return false;
    for (unsigned i = 0; i < a->n_windows && i < QK_MAX_WINDOWS; i++) {
        const qk_window_usage *x = &a->windows[i], *y = &b->windows[i];
        if (x->period != y->period || x->limit != y->limit || x->used != y->used ||
            x->remaining != y->remaining || x->window_start_ms != y->window_start_ms ||
            x->reset_at_ms != y->reset_at_ms || x->level != y->level)
            return false;
    }
    return true;
}

qk_service_def *qkt_named_defs(long n, const char *prefix)
{
    enum { NAME_SIZE = 32 }; /* room for a short prefix and any long */
    qk_service_def *defs = qkt_calloc((size_t)n, sizeof *defs + NAME_SIZE);
    char(*names)[NAME_SIZE] = (void *)(defs + n);
    for (long s = 0; s < n; s++) {
        snprintf(names[s], sizeof names[s], "%s%ld", prefix, s);
        defs[s].name = names[s];
    }
    return defs;
}
