/* qk_perf: times quotakeeper against the spec's locking and its alternatives.
 *
 * Every strategy (strategies.h) first passes exact validators (validate.h); only then is it
 * timed, and every timed run checks its counts again (runner.h). The runs behind the figures
 * come first, back to back (figures.h), then every workload of the grid. CSV rows go to
 * stdout, one per run, flushed as they come; progress goes to stderr. `qk_perf --help`. */
#include <stdio.h>

#include "about.h"
#include "figures.h"
#include "lease.h"
#include "options.h"
#include "redis_server.h"
#include "results.h"
#include "runner.h"
#include "validate.h"

/* Every cell of the grid: each enabled workload over its thread counts and service counts. */
static size_t plan(const options *o, cell *cells, size_t cap)
{
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n == cap)                                                                              \
            perf_die("too many cells");                                                            \
        cells[n++] = (cell){__VA_ARGS__};                                                          \
    } while (0)
    for (int w = 0; w < W_COUNT; w++) {
        if (!o->workload_on[w])
            continue;
        if (w == W_HOT || w == W_MIX || w == W_GRANT) { /* one or the spec's three services */
            for (unsigned t = 0; t < o->threads.n; t++)
                ADD((workload)w, 3, o->threads.v[t], 0);
            continue;
        }
        for (unsigned s = 0; s < o->services.n; s++) {
            const unsigned ns = o->services.v[s];
            if (w == W_OVERSUB) {
                ADD(W_OVERSUB, ns < 2 ? 2 : ns, o->oversub_threads, 0);
            } else if (w == W_SNAPSHOT) {
                for (unsigned t = 0; t < o->writers.n; t++)
                    for (unsigned r = 0; r < o->n_rates; r++)
                        ADD(W_SNAPSHOT, ns, o->writers.v[t], o->rates[r]);
            } else {
                for (unsigned t = 0; t < o->threads.n; t++)
                    ADD((workload)w, ns, o->threads.v[t], 0);
            }
        }
    }
#undef ADD
    return n;
}

static void run_grid(const options *o, const perf_strategy *const *timed, unsigned n_timed)
{
    static cell cells[4096];
    const size_t n_cells = plan(o, cells, sizeof cells / sizeof cells[0]);
    const uint64_t t_start = perf_now_ns();
    for (size_t c = 0; c < n_cells; c++) {
        const cell *cl = &cells[c];
        fprintf(stderr, "[%zu/%zu %.0fs] %s services=%u threads=%u", c + 1, n_cells,
                (double)(perf_now_ns() - t_start) / 1e9, workload_names[cl->w], cl->services,
                cl->threads);
        if (cl->w == W_SNAPSHOT && cl->rate == RATE_MAX)
            fprintf(stderr, " rate=max");
        else if (cl->w == W_SNAPSHOT)
            fprintf(stderr, " rate=%d", cl->rate);
        fputc('\n', stderr);
        /* Strategies interleaved within each repetition, starting one further on each time,
         * so that a slow spell on a shared machine hits them all alike. */
        for (unsigned rep = 0; rep < o->reps; rep++)
            for (unsigned k = 0; k < n_timed; k++) {
                const perf_strategy *st = timed[(k + rep) % n_timed];
                if (workload_takes(cl->w, st->scope == PERF_SCOPE_STORE,
                                   st->role == PERF_ROLE_SUBJECT))
                    run_one(st, cl, o->duration_s, rep + 1, "grid");
            }
    }
    fprintf(stderr, "qk_perf: grid done in %.0f s\n", (double)(perf_now_ns() - t_start) / 1e9);
}

int main(int argc, char **argv)
{
    options o;
    options_parse(&o, argc, argv);
    const uint64_t clock_pair_ns = runner_calibrate();
    switch (o.action) {
    case DO_ABOUT:
        print_about(clock_pair_ns);
        return 0;
    case DO_LIST:
        perf_print_strategies(stdout);
        return 0;
    case DO_HELP:
        usage(stdout);
        return 0;
    case DO_RUN:
        break;
    }

    /* The store strategies need a redis-server; without one they are left out, and every
     * figure that names them says "not measured". */
    char redis_err[256] = "";
    bool have_redis = true;
    for (unsigned i = 0; i < o.n_strategies && have_redis; i++)
        if (o.strategies[i]->scope == PERF_SCOPE_STORE &&
            perf_redis_start(redis_err, sizeof redis_err) != 0) {
            fprintf(stderr, "qk_perf: the store strategies are left out: %s\n", redis_err);
            have_redis = false;
        }

    results_header();
    /* Validators first: a strategy that fails one is not timed. */
    const perf_strategy *timed[MAX_LIST];
    unsigned n_timed = 0;
    for (unsigned i = 0; i < o.n_strategies; i++) {
        const bool store = o.strategies[i]->scope == PERF_SCOPE_STORE;
        if (store && !have_redis)
            continue;
        bool ok = true;
        /* A store strategy pays a round trip per call: the 64-service limit check alone would
         * be 256,000 of them per thread, so it is validated at the spec's 3 services only. */
        for (unsigned s = 0; s < (store ? 1 : o.services.n); s++) {
            services sv;
            make_services(&sv, store ? 3 : o.services.v[s]);
            ok &= validate(o.strategies[i], &sv, o.validate_threads, o.validate_ops);
        }
        if (ok)
            timed[n_timed++] = o.strategies[i];
    }
    if (o.validate_only)
        return results_failed();

    runner_init(options_max_threads(&o));
    figures_run(&o, timed, n_timed);
    run_grid(&o, timed, n_timed);
    figures_write(&o, timed, n_timed);
    if (o.lease_path != NULL && have_redis)
        lease_experiment(&o);
    if (results_failed())
        fprintf(stderr, "qk_perf: finished with failures\n");
    return results_failed();
}
