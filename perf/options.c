/* The command line (options.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

void usage(FILE *f)
{
    fprintf(
        f,
        "usage: qk_perf [preset] [options] > results.csv\n"
        "presets (later options override):\n"
        "  --full          the default: figures 0.2 s x 11, every workload 0.2 s x 3\n"
        "  --quick         0.05 s x 2 repetitions, threads 1,2,4,64,200\n"
        "  --smoke         0.02 s x 1, small validators: checks, not numbers\n"
        "options:\n"
        "  --duration S    seconds per timed run\n"
        "  --reps N        repetitions of every run (strategies interleaved; take medians)\n"
        "  --figure-reps N repetitions of the figure runs, which run back to back (0: none)\n"
        "  --threads L     thread counts, e.g. 1,2,4,8,64,200 (default: 1,2,4..4x cores,64,200)\n"
        "  --services L    service counts (default 3,64); hot and mix always use the spec's 3\n"
        "  --writers L     writer threads for the snapshot workload (default 1,cores)\n"
        "  --rates L       snapshots per second, max = back to back (default 0,10,1000,max)\n"
        "  --oversub N     threads of the oversubscribed workload (default 200)\n"
        "  --workloads L   of disjoint,hot,mix,consume,snapshot,oversubscribed,grant, or none\n"
        "  --strategies L  of ");
    perf_print_strategy_names(f);
    fprintf(f,
            "\n"
            "  --validate-threads N, --validate-ops N   validator size (default 4, 20000)\n"
            "  --validate-only run the validators and stop\n"
            "  --figures FILE  write the figures (figures.c) as CSV to FILE\n"
            "  --lease FILE    run the lease experiment (lease.h) and write its CSV to FILE\n"
            "  --lease-sizes L its lease_max values, 0 = adaptive (default 0,1,10,100,1000)\n"
            "  --lease-consumes N   its consumes per lease size (default 20000)\n"
            "the store strategies (leased, lua-per-call, incrby-pipelined) start a redis-server\n"
            "on a free loopback port ($QK_REDIS_SERVER, else redis-server on PATH); without one\n"
            "they are left out; leased-ddb and ddb-per-call start dynalite ($QK_DYNALITE, else\n"
            "$QK_NODE_DIR/node_modules/.bin/dynalite, QK_NODE_DIR defaulting to build/node)\n"
            "  --about         build and clock facts, as key: value lines\n"
            "  --list          strategies, one CSV line each: name, snapshot, role, chart style, "
            "locking\n");
}

static void parse_uint_list_zero(const char *arg, uint_list *out, const char *what, bool zero)
{
    out->n = 0;
    char *copy = strdup(arg), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        const unsigned long v = strtoul(tok, &end, 10);
        if (*end != '\0' || (v == 0 && !zero) || v > 100000 || out->n == MAX_LIST)
            perf_die("bad %s list '%s'", what, arg);
        out->v[out->n++] = (unsigned)v;
    }
    free(copy);
    if (out->n == 0)
        perf_die("empty %s list", what);
}

static void parse_uint_list(const char *arg, uint_list *out, const char *what)
{
    parse_uint_list_zero(arg, out, what, false);
}

static void parse_rates(const char *arg, options *o)
{
    o->n_rates = 0;
    char *copy = strdup(arg), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strcmp(tok, "max") == 0 ? RATE_MAX : strtol(tok, &end, 10);
        if ((v != RATE_MAX && (*end != '\0' || v < 0 || v > 1000000)) || o->n_rates == MAX_LIST)
            perf_die("bad rate list '%s'", arg);
        o->rates[o->n_rates++] = (int)v;
    }
    free(copy);
}

static void parse_names(const char *arg, options *o, bool workloads)
{
    if (workloads)
        memset(o->workload_on, 0, sizeof o->workload_on);
    else
        o->n_strategies = 0;
    char *copy = strdup(arg), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool found = workloads && strcmp(tok, "none") == 0; /* the figure runs only */
        if (workloads) {
            for (int w = 0; w < W_COUNT; w++)
                if (strcmp(tok, workload_names[w]) == 0)
                    o->workload_on[w] = found = true;
        } else {
            const perf_strategy *st = perf_strategy_named(tok);
            if (st != NULL && o->n_strategies < MAX_LIST) {
                o->strategies[o->n_strategies++] = st;
                found = true;
            }
        }
        if (!found)
            perf_die("unknown %s '%s'%s", workloads ? "workload" : "strategy", tok,
                     !workloads && strcmp(tok, "ck") == 0 ? " (built without libck)" : "");
    }
    free(copy);
}

/* 1, 2, 4, ... up to 4x the cores, then 64 and 200: under, at and far over the cores. */
static void default_threads(uint_list *l, unsigned n_cores)
{
    l->n = 0;
    for (unsigned t = 1; t <= 4 * n_cores && l->n < MAX_LIST - 2; t *= 2)
        l->v[l->n++] = t;
    if (l->v[l->n - 1] < 64)
        l->v[l->n++] = 64;
    l->v[l->n++] = 200;
}

static void preset(options *o, const char *name)
{
    o->oversub_threads = 200;
    o->validate_threads = 4;
    o->services = (uint_list){{3, 64}, 2};
    o->writers = (uint_list){{1, o->n_cores}, o->n_cores > 1 ? 2 : 1};
    parse_rates("0,10,1000,max", o);
    default_threads(&o->threads, o->n_cores);
    parse_uint_list_zero("0,1,10,100,1000", &o->lease_sizes, "lease size", true);
    o->lease_consumes = 20000;
    if (strcmp(name, "full") == 0) {
        o->duration_s = 0.2;
        o->reps = 3;
        o->figure_reps = 11;
        o->validate_ops = 20000;
    } else if (strcmp(name, "quick") == 0) {
        o->duration_s = 0.05;
        o->reps = 2;
        o->figure_reps = 3;
        o->validate_ops = 5000;
        o->lease_consumes = 5000;
        parse_uint_list("1,2,4,64,200", &o->threads, "thread");
    } else { /* smoke */
        o->duration_s = 0.02;
        o->reps = 1;
        o->figure_reps = 1;
        o->validate_ops = 2000;
        o->lease_consumes = 300;
        parse_uint_list("1,2,4", &o->threads, "thread");
        o->writers = (uint_list){{2}, 1};
    }
}

void options_parse(options *o, int argc, char **argv)
{
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (options){.action = DO_RUN, .n_cores = cores > 0 ? (unsigned)cores : 1};
    preset(o, "full");
    for (int w = 0; w < W_COUNT; w++)
        o->workload_on[w] = true;
    for (size_t i = 0; i < perf_n_strategies && i < MAX_LIST; i++)
        o->strategies[o->n_strategies++] = &perf_strategies[i];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE() (v ? (i++, v) : (perf_die("%s needs a value", a), ""))
        if (strcmp(a, "--full") == 0 || strcmp(a, "--quick") == 0 || strcmp(a, "--smoke") == 0)
            preset(o, a + 2);
        else if (strcmp(a, "--duration") == 0)
            o->duration_s = atof(VALUE());
        else if (strcmp(a, "--reps") == 0)
            o->reps = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--figure-reps") == 0)
            o->figure_reps = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--threads") == 0)
            parse_uint_list(VALUE(), &o->threads, "thread");
        else if (strcmp(a, "--services") == 0)
            parse_uint_list(VALUE(), &o->services, "service");
        else if (strcmp(a, "--writers") == 0)
            parse_uint_list(VALUE(), &o->writers, "writer");
        else if (strcmp(a, "--rates") == 0)
            parse_rates(VALUE(), o);
        else if (strcmp(a, "--oversub") == 0)
            o->oversub_threads = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--workloads") == 0)
            parse_names(VALUE(), o, true);
        else if (strcmp(a, "--strategies") == 0)
            parse_names(VALUE(), o, false);
        else if (strcmp(a, "--validate-threads") == 0)
            o->validate_threads = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--validate-ops") == 0)
            o->validate_ops = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--validate-only") == 0)
            o->validate_only = true;
        else if (strcmp(a, "--figures") == 0)
            o->figures_path = VALUE();
        else if (strcmp(a, "--lease") == 0)
            o->lease_path = VALUE();
        else if (strcmp(a, "--lease-sizes") == 0)
            parse_uint_list_zero(VALUE(), &o->lease_sizes, "lease size", true);
        else if (strcmp(a, "--lease-consumes") == 0)
            o->lease_consumes = (unsigned)atoi(VALUE());
        else if (strcmp(a, "--about") == 0)
            o->action = DO_ABOUT;
        else if (strcmp(a, "--list") == 0)
            o->action = DO_LIST;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            o->action = DO_HELP;
        else {
            usage(stderr);
            exit(2);
        }
#undef VALUE
    }
    if (o->duration_s <= 0 || o->reps == 0 || o->validate_threads == 0 || o->validate_ops == 0 ||
        o->oversub_threads == 0)
        perf_die("duration, reps, oversub and validator sizes must be positive");
}

unsigned options_max_threads(const options *o)
{
    unsigned most = o->oversub_threads;
    for (unsigned i = 0; i < o->threads.n; i++)
        most = o->threads.v[i] > most ? o->threads.v[i] : most;
    for (unsigned i = 0; i < o->writers.n; i++)
        most = o->writers.v[i] > most ? o->writers.v[i] : most;
    return most;
}
