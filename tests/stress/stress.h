/* Shared helpers of the stress programs (docs/testing.md, "stress").
 *
 * Each program is a plain pthread program: no Criterion (it aborts under ThreadSanitizer), exit
 * status 0 when every invariant held and 1 otherwise. Sizes come from argv, else from the
 * environment, else from a default, so the same program runs large in a normal build and small
 * under helgrind. Worker threads start together on a barrier so that they really contend.
 *
 * What the workers record is kept per thread and merged after pthread_join, which orders it
 * before the checks for every checker (TSan, helgrind) without atomics of our own. */
#ifndef QK_STRESS_H
#define QK_STRESS_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quotakeeper.h"

/* Helgrind does not model C11 atomics: a relaxed atomic store and load in two threads look like
 * a race to it. The programs' own progress counters (read by a watchdog or a progress report,
 * deciding nothing but what is printed and when a stall is declared) are excluded from its
 * checking with this client request, which is a no-op outside valgrind. The library's memory is
 * never excluded. */
#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define STRESS_HG_IGNORE(addr, len) VALGRIND_HG_DISABLE_CHECKING(addr, len)
#endif
#endif
#ifndef STRESS_HG_IGNORE
#define STRESS_HG_IGNORE(addr, len) ((void)(addr), (void)(len))
#endif

/* 2026-01-09T12:00:00Z: a fixed instant, so no window rolls unless a test moves the clock. */
#define STRESS_T0_MS INT64_C(1767960000000)

static _Atomic int stress_failures;

/* Records a failed invariant; the program then exits 1. Keeps printing to a few lines. */
__attribute__((format(printf, 3, 4))) static inline void stress_fail(const char *file, int line,
                                                                     const char *fmt, ...)
{
    const int n = atomic_fetch_add(&stress_failures, 1);
    if (n >= 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            stress_fail(__FILE__, __LINE__, __VA_ARGS__);                                          \
    } while (0)

/* A qk_ call that must return want. */
#define CHECK_RC(call, want)                                                                       \
    do {                                                                                           \
        const int rc_ = (call);                                                                    \
        if (rc_ != (want))                                                                         \
            stress_fail(__FILE__, __LINE__, "%s returned %d (%s), wanted %d: %s", #call, rc_,      \
                        qk_strerror(rc_), (int)(want), qk_errmsg());                               \
    } while (0)

/* Size parameter i: argv[i] if given, else $env, else def. */
static inline long stress_param(int argc, char **argv, int i, const char *env, long def)
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

/* A clock the test controls: ctx points at an _Atomic int64_t holding ms since the epoch. */
static inline int64_t stress_clock(void *ctx)
{
    return atomic_load_explicit((_Atomic int64_t *)ctx, memory_order_relaxed);
}

/* Starts n threads running fn(&args[i*size]) with small stacks (200 threads fit anywhere). */
static inline void stress_spawn(pthread_t *th, size_t n, void *(*fn)(void *), void *args,
                                size_t size)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (size_t i = 0; i < n; i++) {
        const int rc = pthread_create(&th[i], &attr, fn, (char *)args + i * size);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            exit(2);
        }
    }
    pthread_attr_destroy(&attr);
}

static inline void stress_join(pthread_t *th, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

static inline void *stress_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* The worker threads of a run. They wait on `go` before their first operation, so that they
 * start together and really contend instead of running one after another as they are created. */
typedef struct {
    pthread_barrier_t go;
    pthread_t *threads;
    size_t n;
} stress_crew;

/* Makes room for n workers. The barrier also waits for `others` threads that the program starts
 * apart (checkers running beside the workers), so that those start with them. */
static inline void stress_crew_init(stress_crew *crew, long n, unsigned others)
{
    crew->n = (size_t)n;
    crew->threads = stress_calloc(crew->n, sizeof *crew->threads);
    pthread_barrier_init(&crew->go, NULL, (unsigned)n + others);
}

/* Starts worker i on fn(&args[i*size]); each must wait on crew->go first. */
static inline void stress_crew_start(stress_crew *crew, void *(*fn)(void *), void *args,
                                     size_t size)
{
    stress_spawn(crew->threads, crew->n, fn, args, size);
}

/* Waits for every worker: what they recorded is then ordered before the checks. */
static inline void stress_crew_join(stress_crew *crew)
{
    stress_join(crew->threads, crew->n);
}

static inline void stress_crew_destroy(stress_crew *crew)
{
    free(crew->threads);
    pthread_barrier_destroy(&crew->go);
}

/* n service definitions named <prefix>0, <prefix>1, ..., windows left for the caller to set.
 * The names live in the same block, after the definitions, so that free(defs) releases both. */
static inline qk_service_def *stress_named_defs(long n, const char *prefix)
{
    enum { NAME_SIZE = 32 }; /* room for a short prefix and any long */
    qk_service_def *defs = stress_calloc((size_t)n, sizeof *defs + NAME_SIZE);
    char(*names)[NAME_SIZE] = (void *)(defs + n);
    for (long s = 0; s < n; s++) {
        snprintf(names[s], sizeof names[s], "%s%ld", prefix, s);
        defs[s].name = names[s];
    }
    return defs;
}

/* Options for a tracker over defs[0..n) on the clock the test controls (`now`, in ms); a program
 * sets whatever else it needs (events, capacity) before stress_tracker_new. */
static inline qk_options stress_options(const qk_service_def *defs, size_t n, _Atomic int64_t *now)
{
    qk_options opts = QK_OPTIONS_INIT;
    opts.services = defs;
    opts.n_services = n;
    opts.clock = stress_clock;
    opts.clock_ctx = now;
    return opts;
}

/* Makes the tracker under test in *t (written by qk_tracker_new itself, so an event payload may
 * point at t). Without one there is nothing to stress: the failure is recorded and the program
 * exits 1 at once, with no verdict. */
static inline void stress_tracker_new(qk_tracker **t, const qk_options *opts)
{
    *t = NULL;
    CHECK_RC(qk_tracker_new(t, opts), QK_OK);
    if (*t == NULL)
        exit(1);
}

/* Prints the verdict and returns the exit status. */
static inline int stress_verdict(const char *name)
{
    const int n = atomic_load(&stress_failures);
    if (n > 0) {
        fprintf(stderr, "%s: FAILED (%d invariant violations)\n", name, n);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
