#include "program.h"

#include <stdio.h>
#include <stdlib.h>

#include "fail.h"

long qkt_param(int argc, char **argv, int i, const char *env, long def)
{
    const char *s = i < argc ? argv[i] : getenv(env);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    const long v = strtol(s, &end, 0);
    if (*end != '\0' || v < 0) {
        fprintf(stderr, "bad value '%s' for %s\n", s, env);
        exit(2);
    }
    return v;
}

qk_options qkt_clocked_options(const qk_service_def *defs, size_t n, qkt_clock *now)
{
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = defs;
    opts.n_services = n;
    opts.clock = qkt_clock_read;
    opts.clock_ctx = now;
    return opts;
}

void qkt_tracker_new_or_exit(qk_tracker **t, const qk_options *opts)
{
    *t = NULL;
    CHECK_RC(qk_tracker_new(t, opts), QK_OK);
    if (*t == NULL)
        exit(1);
}
