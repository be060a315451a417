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
