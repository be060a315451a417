/* The results CSV and the runs kept for the figures (results.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

const char *const metric_names[M_COUNT] = {"ops_per_s", "cpu_ns_per_op", "snap_p50_ns",
                                           "snap_p99_ns", "store_ops_per_op"};

static perf_result *kept;
static size_t n_kept, cap_kept;
static bool any_failed;

static double ops_per_s(const perf_result *r)
{
    return r->seconds > 0 ? (double)r->ops / r->seconds : 0;
}

double result_metric(const perf_result *r, perf_metric m)
{
    switch (m) {
    case M_OPS_PER_S:
        return ops_per_s(r);
    case M_CPU_NS_PER_OP:
        return r->cpu_ns_per_op;
    case M_SNAP_P50_NS:
        return (double)r->snap_p50_ns;
    case M_SNAP_P99_NS:
        return (double)r->snap_p99_ns;
    case M_STORE_OPS_PER_OP:
        return r->ops > 0 ? (double)r->store_ops / (double)r->ops : 0;
    default:
        return 0;
    }
}

const char *verdict(const perf_strategy *st, uint64_t lost, uint64_t violations, uint64_t torn)
{
    if (st->snapshot_kind == PERF_SNAPSHOT_LOSSY)
        return lost || violations || torn ? "lossy" : "ok";
    if (lost || violations)
        return "FAIL";
    if (torn)
        return st->snapshot_kind == PERF_SNAPSHOT_TORN_OK ? "torn" : "FAIL";
    return "ok";
}

void results_header(void)
{
    puts("strategy,workload,services,threads,snap_rate,rep,ops,seconds,ops_per_s,ns_per_op,cpu_ns_"
         "per_op,"
         "p50_ns,p99_ns,snaps,snap_per_s,snap_p50_ns,snap_p99_ns,lost_updates,limit_violations,"
         "torn_snapshots,refused,cores_used,store_ops,phase,verdict");
    fflush(stdout);
}

void results_add(const perf_result *r)
{
    const double rate_ops = ops_per_s(r);
    char rate[16];
    if (r->cell.rate == RATE_MAX)
        snprintf(rate, sizeof rate, "max");
    else
        snprintf(rate, sizeof rate, "%d", r->cell.rate);
    printf(
        "%s,%s,%u,%u,%s,%u,%llu,%.6f,%.0f,%.3f,%.3f,%llu,%llu,%llu,%.1f,%llu,%llu,%llu,%llu,%llu,"
        "%llu,%.2f,%llu,%s,%s\n",
        r->strategy->name, r->workload, r->cell.services, r->cell.threads, rate, r->rep,
        (unsigned long long)r->ops, r->seconds, rate_ops, rate_ops > 0 ? 1e9 / rate_ops : 0,
        r->cpu_ns_per_op, (unsigned long long)r->p50_ns, (unsigned long long)r->p99_ns,
        (unsigned long long)r->snaps, r->seconds > 0 ? (double)r->snaps / r->seconds : 0,
        (unsigned long long)r->snap_p50_ns, (unsigned long long)r->snap_p99_ns,
        (unsigned long long)r->lost, (unsigned long long)r->limit_violations,
        (unsigned long long)r->torn, (unsigned long long)r->refused, r->cores_used,
        (unsigned long long)r->store_ops, r->phase, r->verdict);
    fflush(stdout);

    any_failed |= strcmp(r->verdict, "FAIL") == 0;
    if (n_kept == cap_kept) {
        cap_kept = cap_kept ? 2 * cap_kept : 1024;
        kept = realloc(kept, cap_kept * sizeof *kept);
        if (kept == NULL)
            perf_die("out of memory for %zu results", cap_kept);
    }
    kept[n_kept++] = *r;
}

bool results_failed(void)
{
    return any_failed;
}

const perf_result *results_find(const char *phase, const perf_strategy *st, const cell *c,
                                unsigned rep)
{
    for (size_t i = 0; i < n_kept; i++) {
        const perf_result *r = &kept[i];
        if (r->strategy == st && r->rep == rep && r->cell.w == c->w &&
            r->cell.services == c->services && r->cell.threads == c->threads &&
            r->cell.rate == c->rate && strcmp(r->phase, phase) == 0)
            return r;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

uint64_t percentile(uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* The middle value, or the mean of the two middle ones, as the report's awk takes it. */
double median_double(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
