/* The table of figures and how each is computed (figures.h).
 *
 * A figure compares a metric of two runs, the numerator and the denominator, each a strategy
 * in a cell. It is computed per repetition, from runs taken seconds apart, so that a slow
 * spell of a shared machine hits both sides; the figure is the median of those per-repetition
 * values, with the lowest and highest beside it. Adding a figure is adding a row. */
#include <stdio.h>
#include <string.h>

#include "figures.h"
#include "results.h"
#include "runner.h"

/* Thread counts a figure names by what they mean on the machine at hand. */
enum {
    FIG_CORES = -1,          /* the cores online, at least 2: contention */
    FIG_WRITERS = -2,        /* the most snapshot writers (--writers) */
    FIG_EACH_CONTENDED = -3, /* each thread count of the grid from 2 up; the worst one counts */
};

typedef struct {
    const char *strategy;
    workload w;
    unsigned services;
    int threads; /* a count, or one of the FIG_ values above */
    int rate;    /* W_SNAPSHOT: snapshots per second, RATE_MAX back to back */
} fig_side;

typedef enum {
    FIG_RATIO,    /* numerator / denominator */
    FIG_LOSS_PCT, /* 100 * (1 - numerator / denominator): what the numerator's condition costs */
    FIG_VALUE     /* the numerator alone, reported */
} fig_kind;

typedef enum { FIG_AT_MOST, FIG_AT_LEAST, FIG_REPORTED } fig_direction;

typedef struct {
    const char *name; /* markdown for the report; %t stands for the thread count resolved */
    fig_kind kind;
    perf_metric metric;
    fig_side num, den; /* den unused for FIG_VALUE */
    fig_direction direction;
    double target;
    unsigned min_cores; /* fewer cores online: the figure means nothing and is not judged */
} figure;

#define D3(st, t)                                                                                  \
    {                                                                                              \
        st, W_DISJOINT, 3, t, 0                                                                    \
    }
#define SNAP(st, s, r)                                                                             \
    {                                                                                              \
        st, W_SNAPSHOT, s, FIG_WRITERS, r                                                          \
    }
#define HOT3(st, t)                                                                                \
    {                                                                                              \
        st, W_HOT, 3, t, 0                                                                         \
    }
#define GRANT3(st, t)                                                                              \
    {                                                                                              \
        st, W_GRANT, 3, t, 0                                                                       \
    }
#define NO_SIDE                                                                                    \
    {                                                                                              \
        NULL, W_DISJOINT, 0, 0, 0                                                                  \
    }

/* Single-thread costs are per-thread CPU time, so that time slices other processes take do
 * not count; the rest is wall-clock throughput. */
static const figure figures[] = {
    {"NFR-001: single-thread `qk_record`, `sharded` / `global-slot`: the same slot update under "
     "one global mutex",
     FIG_RATIO, M_CPU_NS_PER_OP, D3("sharded", 1), D3("global-slot", 1), FIG_AT_MOST, 1.05, 1},
    {"For context: single-thread `qk_record` / bare `global`, the spec's tracker: one counter, "
     "no windows",
     FIG_RATIO, M_CPU_NS_PER_OP, D3("sharded", 1), D3("global", 1), FIG_REPORTED, 0, 1},
    {"Hot-path cost: single-thread `qk_record` / `floor`", FIG_RATIO, M_CPU_NS_PER_OP,
     D3("sharded", 1), D3("floor", 1), FIG_AT_MOST, 1.5, 1},
    {"Disjoint scaling: `sharded` %t threads / 1 thread", FIG_RATIO, M_OPS_PER_S, D3("sharded", 2),
     D3("sharded", 1), FIG_AT_LEAST, 1.8, 2},
    {"State file: single-thread `qk_record`, `sharded-shared` / `sharded`", FIG_RATIO,
     M_CPU_NS_PER_OP, D3("sharded-shared", 1), D3("sharded", 1), FIG_AT_MOST, 1.2, 1},
    {"State file, disjoint scaling: `sharded-shared` %t threads / 1 thread", FIG_RATIO, M_OPS_PER_S,
     D3("sharded-shared", 2), D3("sharded-shared", 1), FIG_AT_LEAST, 1.8, 2},
    {"Disjoint: `sharded` / `global` at %t threads", FIG_RATIO, M_OPS_PER_S, D3("sharded", 2),
     D3("global", 2), FIG_AT_LEAST, 3, 1},
    {"Snapshot cost, 3 services, %t writer(s), 1,000/s: p50", FIG_VALUE, M_SNAP_P50_NS,
     SNAP("sharded", 3, 1000), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Snapshot cost, 3 services, %t writer(s), 1,000/s: p99", FIG_VALUE, M_SNAP_P99_NS,
     SNAP("sharded", 3, 1000), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Snapshot cost, 3 services, %t writer(s), back to back: p50", FIG_VALUE, M_SNAP_P50_NS,
     SNAP("sharded", 3, RATE_MAX), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Snapshot cost, 3 services, %t writer(s), back to back: p99", FIG_VALUE, M_SNAP_P99_NS,
     SNAP("sharded", 3, RATE_MAX), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Writer throughput lost under 1,000 snapshots/s, 3 services, %t writer(s)", FIG_LOSS_PCT,
     M_OPS_PER_S, SNAP("sharded", 3, 1000), SNAP("sharded", 3, 0), FIG_AT_MOST, 5, 1},
    {"Snapshot cost, 64 services, %t writer(s), 1,000/s: p50", FIG_VALUE, M_SNAP_P50_NS,
     SNAP("sharded", 64, 1000), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Snapshot cost, 64 services, %t writer(s), 1,000/s: p99", FIG_VALUE, M_SNAP_P99_NS,
     SNAP("sharded", 64, 1000), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Snapshot cost, 64 services, %t writer(s), back to back: p50", FIG_VALUE, M_SNAP_P50_NS,
     SNAP("sharded", 64, RATE_MAX), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Snapshot cost, 64 services, %t writer(s), back to back: p99", FIG_VALUE, M_SNAP_P99_NS,
     SNAP("sharded", 64, RATE_MAX), NO_SIDE, FIG_REPORTED, 0, 1},
    {"Writer throughput lost under 1,000 snapshots/s, 64 services, %t writer(s)", FIG_LOSS_PCT,
     M_OPS_PER_S, SNAP("sharded", 64, 1000), SNAP("sharded", 64, 0), FIG_AT_MOST, 5, 1},
    {"Hot service: `sharded` / `global`, %t threads on one service", FIG_RATIO, M_OPS_PER_S,
     HOT3("sharded", FIG_CORES), HOT3("global", FIG_CORES), FIG_AT_LEAST, 1.0, 1},
    {"Hot service, worst thread count in the tables below (%t): `sharded` / `global`", FIG_RATIO,
     M_OPS_PER_S, HOT3("sharded", FIG_EACH_CONTENDED), HOT3("global", FIG_EACH_CONTENDED),
     FIG_AT_LEAST, 1.0, 1},
    /* The hot service's limit, measured: the same slot update under one mutex (`global-slot`)
     * against `sharded` on one service. Near 1, the gap to `global` is the work the lock
     * guards (windows, levels, overflow), not where the lock lives. */
    {"Hot service: `sharded` / `global-slot` (the same work under one mutex), %t threads on one "
     "service",
     FIG_RATIO, M_OPS_PER_S, HOT3("sharded", FIG_CORES), HOT3("global-slot", FIG_CORES),
     FIG_REPORTED, 0, 1},
    {"Hot service, worst thread count (%t): `sharded` / `global-slot`", FIG_RATIO, M_OPS_PER_S,
     HOT3("sharded", FIG_EACH_CONTENDED), HOT3("global-slot", FIG_EACH_CONTENDED), FIG_REPORTED, 0,
     1},
    {"Hot service: `global-slot` / `global`, %t threads: what the slot update's work costs under "
     "one mutex",
     FIG_RATIO, M_OPS_PER_S, HOT3("global-slot", FIG_CORES), HOT3("global", FIG_CORES),
     FIG_REPORTED, 0, 1},
    /* The shared store (issue 8): consumes under a limit no run reaches, every grant kept. */
    {"Store attached, lease in hand: single-thread `qk_try_consume`, `leased` / `sharded` (the "
     "same tracker without a store)",
     FIG_RATIO, M_CPU_NS_PER_OP, GRANT3("leased", 1), GRANT3("sharded", 1), FIG_AT_MOST, 1.1, 1},
    {"Store attached, scaling: `leased` %t threads / 1 thread", FIG_RATIO, M_OPS_PER_S,
     GRANT3("leased", 2), GRANT3("leased", 1), FIG_AT_LEAST, 1.8, 2},
    {"Store: `leased` / `lua-per-call` (one EVALSHA per consume) at %t threads", FIG_RATIO,
     M_OPS_PER_S, GRANT3("leased", 2), GRANT3("lua-per-call", 2), FIG_AT_LEAST, 500, 1},
    {"Store: `leased` / `incrby-pipelined` (envoy-style, one round trip per consume) at %t threads",
     FIG_RATIO, M_OPS_PER_S, GRANT3("leased", 2), GRANT3("incrby-pipelined", 2), FIG_AT_LEAST, 500,
     1},
    {"Store operations per consume, `leased` at %t threads (about one per lease)", FIG_VALUE,
     M_STORE_OPS_PER_OP, GRANT3("leased", 2), NO_SIDE, FIG_REPORTED, 0, 1},
    /* The DynamoDB store (issue 10), on dynalite: the same experiment against the original's
     * per-call design, one conditional UpdateItem per consume. */
    {"DynamoDB store: `leased-ddb` / `ddb-per-call` (one conditional UpdateItem per consume) at %t "
     "threads, both on the same dynalite",
     FIG_RATIO, M_OPS_PER_S, GRANT3("leased-ddb", 2), GRANT3("ddb-per-call", 2), FIG_AT_LEAST, 500,
     1},
    {"DynamoDB store requests per consume, `leased-ddb` at %t threads (HTTP requests: about two "
     "per sync)",
     FIG_VALUE, M_STORE_OPS_PER_OP, GRANT3("leased-ddb", 2), NO_SIDE, FIG_REPORTED, 0, 1},
};
#define N_FIGURES (sizeof figures / sizeof figures[0])

static unsigned max_writers(const options *o)
{
    unsigned most = 0;
    for (unsigned i = 0; i < o->writers.n; i++)
        most = o->writers.v[i] > most ? o->writers.v[i] : most;
    return most;
}

/* The side's cell with its thread count resolved (t for FIG_EACH_CONTENDED). */
static cell side_cell(const options *o, const fig_side *side, unsigned t)
{
    unsigned threads = (unsigned)side->threads;
    if (side->threads == FIG_CORES)
        threads = o->n_cores < 2 ? 2 : o->n_cores;
    else if (side->threads == FIG_WRITERS)
        threads = max_writers(o);
    else if (side->threads == FIG_EACH_CONTENDED)
        threads = t;
    return (cell){side->w, side->services, threads, side->w == W_SNAPSHOT ? side->rate : 0};
}

/* The strategy a side names, if it was timed in this run. */
static const perf_strategy *side_strategy(const fig_side *side, const perf_strategy *const *timed,
                                          unsigned n_timed)
{
    for (unsigned i = 0; i < n_timed; i++)
        if (strcmp(timed[i]->name, side->strategy) == 0)
            return timed[i];
    return NULL;
}

static bool same_cell(const cell *a, const cell *b)
{
    return a->w == b->w && a->services == b->services && a->threads == b->threads &&
           a->rate == b->rate;
}

void figures_run(const options *o, const perf_strategy *const *timed, unsigned n_timed)
{
    /* Every cell the table names, with the strategies it needs there, in table order. */
    enum { MAX_CELLS = 2 * N_FIGURES };
    struct {
        cell c;
        const perf_strategy *st[MAX_LIST];
        unsigned n;
    } runs[MAX_CELLS];
    unsigned n_runs = 0;
    for (size_t f = 0; f < N_FIGURES; f++) {
        const fig_side *sides[2] = {&figures[f].num, &figures[f].den};
        for (unsigned k = 0; k < 2; k++) {
            if (sides[k]->strategy == NULL || sides[k]->threads == FIG_EACH_CONTENDED)
                continue; /* no such side, or one that reads the grid */
            const perf_strategy *st = side_strategy(sides[k], timed, n_timed);
            if (st == NULL)
                continue;
            const cell c = side_cell(o, sides[k], 0);
            unsigned r = 0;
            while (r < n_runs && !same_cell(&runs[r].c, &c))
                r++;
            if (r == n_runs) {
                runs[n_runs].c = c;
                runs[n_runs++].n = 0;
            }
            unsigned i = 0;
            while (i < runs[r].n && runs[r].st[i] != st)
                i++;
            if (i == runs[r].n)
                runs[r].st[runs[r].n++] = st;
        }
    }
    for (unsigned rep = 0; rep < o->figure_reps; rep++) {
        fprintf(stderr, "[figures %u/%u]\n", rep + 1, o->figure_reps);
        for (unsigned r = 0; r < n_runs; r++)
            for (unsigned k = 0; k < runs[r].n; k++) /* a different one first each time */
                run_one(runs[r].st[(k + rep) % runs[r].n], &runs[r].c, o->duration_s, rep + 1,
                        "fig");
    }
}

/* One figure's numbers; n == 0 when it was not measured. */
typedef struct {
    unsigned n, threads, den_threads;
    double value, low, high;
    double num, den;             /* medians of the two sides' metric */
    double num_cores, den_cores; /* medians of the cores each side's threads got */
} fig_value;

static double lowest(const double *v, unsigned n)
{
    double m = v[0];
    for (unsigned i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double highest(const double *v, unsigned n)
{
    double m = v[0];
    for (unsigned i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* The figure at thread count t (FIG_EACH_CONTENDED only) from the phase's repetitions. */
static fig_value compute_at(const options *o, const figure *f, const perf_strategy *num_st,
                            const perf_strategy *den_st, unsigned t, const char *phase,
                            unsigned reps)
{
    const cell nc = side_cell(o, &f->num, t), dc = side_cell(o, &f->den, t);
    double v[256], nv[256], dv[256], ncores[256], dcores[256];
    unsigned n = 0;
    for (unsigned rep = 1; rep <= reps && n < 256; rep++) {
        const perf_result *a = results_find(phase, num_st, &nc, rep);
        const perf_result *b = f->kind == FIG_VALUE ? a : results_find(phase, den_st, &dc, rep);
        if (a == NULL || b == NULL)
            continue;
        const double x = result_metric(a, f->metric), y = result_metric(b, f->metric);
        if (f->kind != FIG_VALUE && !(y > 0))
            continue;
        v[n] = f->kind == FIG_VALUE ? x : f->kind == FIG_RATIO ? x / y : 100 * (1 - x / y);
        nv[n] = x;
        dv[n] = y;
        ncores[n] = a->cores_used;
        dcores[n] = b->cores_used;
        n++;
    }
    fig_value r = {.n = n, .threads = nc.threads, .den_threads = dc.threads};
    if (n == 0)
        return r;
    r.low = lowest(v, n);
    r.high = highest(v, n);
    r.value = median_double(v, n);
    r.num = median_double(nv, n);
    r.den = median_double(dv, n);
    r.num_cores = median_double(ncores, n);
    r.den_cores = median_double(dcores, n);
    return r;
}

static bool worse(const figure *f, double a, double b)
{
    return f->direction == FIG_AT_MOST ? a > b : a < b;
}

static fig_value compute(const options *o, const figure *f, const perf_strategy *const *timed,
                         unsigned n_timed)
{
    const perf_strategy *num_st = side_strategy(&f->num, timed, n_timed);
    const perf_strategy *den_st =
        f->kind == FIG_VALUE ? num_st : side_strategy(&f->den, timed, n_timed);
    fig_value none = {0};
    if (num_st == NULL || den_st == NULL)
        return none;
    if (f->num.threads != FIG_EACH_CONTENDED)
        return compute_at(o, f, num_st, den_st, 0, "fig", o->figure_reps);
    /* The grid's thread counts for the workload, the worst of those with contention. */
    const uint_list *list = f->num.w == W_SNAPSHOT ? &o->writers : &o->threads;
    fig_value worst = none;
    for (unsigned i = 0; i < list->n; i++) {
        if (list->v[i] < 2)
            continue;
        const fig_value x = compute_at(o, f, num_st, den_st, list->v[i], "grid", o->reps);
        if (x.n > 0 && (worst.n == 0 || worse(f, x.value, worst.value)))
            worst = x;
    }
    return worst;
}

static const char *holds(const options *o, const figure *f, const fig_value *v)
{
    if (v->n == 0)
        return "not measured";
    if (o->n_cores < f->min_cores)
        return "n/a: too few cores";
    if (f->direction == FIG_REPORTED)
        return "reported";
    const bool ok = f->direction == FIG_AT_MOST ? v->value <= f->target : v->value >= f->target;
    return ok ? "yes" : "no";
}

/* The name with %t replaced by the thread count. */
static void print_name(FILE *out, const char *name, unsigned threads)
{
    for (const char *p = name; *p; p++) {
        if (p[0] == '%' && p[1] == 't') {
            fprintf(out, "%u", threads);
            p++;
        } else {
            fputc(*p, out);
        }
    }
}

static void print_number(FILE *out, bool have, double x)
{
    if (have)
        fprintf(out, "%.6g", x);
}

void figures_write(const options *o, const perf_strategy *const *timed, unsigned n_timed)
{
    static const char *const kinds[] = {"ratio", "loss_pct", "value"};
    static const char *const directions[] = {"at_most", "at_least", "reported"};
    FILE *out = NULL;
    if (o->figures_path != NULL && (out = fopen(o->figures_path, "w")) == NULL)
        perf_die("cannot write %s", o->figures_path);
    if (out != NULL)
        fputs("holds,kind,metric,direction,target,min_cores,threads,den_threads,numerator,"
              "denominator,"
              "num_value,den_value,num_cores,den_cores,reps,value,low,high,figure\n",
              out);
    for (size_t i = 0; i < N_FIGURES; i++) {
        const figure *f = &figures[i];
        const fig_value v = compute(o, f, timed, n_timed);
        const bool have = v.n > 0, two = f->kind != FIG_VALUE;
        const char *verdict_ = holds(o, f, &v);
        fputs("figure: ", stderr);
        print_name(stderr, f->name, v.threads);
        if (have)
            fprintf(stderr, ": %.4g (%s)\n", v.value, verdict_);
        else
            fprintf(stderr, ": %s\n", verdict_);
        if (out == NULL)
            continue;
        fprintf(out, "%s,%s,%s,%s,", verdict_, kinds[f->kind], metric_names[f->metric],
                directions[f->direction]);
        print_number(out, f->direction != FIG_REPORTED, f->target);
        fprintf(out, ",%u,", f->min_cores);
        print_number(out, have, v.threads);
        fputc(',', out);
        print_number(out, have && two, v.den_threads);
        fprintf(out, ",%s,%s,", f->num.strategy, two ? f->den.strategy : "");
        print_number(out, have, v.num);
        fputc(',', out);
        print_number(out, have && two, v.den);
        fputc(',', out);
        print_number(out, have, v.num_cores);
        fputc(',', out);
        print_number(out, have && two, v.den_cores);
        fprintf(out, ",%u,", v.n);
        print_number(out, have, v.value);
        fputc(',', out);
        print_number(out, have, v.low);
        fputc(',', out);
        print_number(out, have, v.high);
        fputc(',', out);
        print_name(out, f->name, v.threads);
        fputc('\n', out);
    }
    if (out != NULL && fclose(out) != 0)
        perf_die("cannot write %s", o->figures_path);
}
