/* `qk_perf --about` (about.h). */
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include <quotakeeper.h>

#include "about.h"
#include "harness.h"
#include "perf_build_info.h"
#include "strategies.h"

static void *idle_thread(void *arg)
{
    return arg;
}

static double ns_per_call_coarse(unsigned n)
{
    volatile int64_t sink = 0;
    const uint64_t t0 = perf_now_ns();
    for (unsigned i = 0; i < n; i++)
        sink += perf_coarse_ms();
    (void)sink;
    return (double)(perf_now_ns() - t0) / n;
}

static double ns_per_mutex_round(unsigned n)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    volatile uint64_t count = 0;
    const uint64_t t0 = perf_now_ns();
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&m);
        count++;
        pthread_mutex_unlock(&m);
    }
    return (double)(perf_now_ns() - t0) / n;
}

void print_about(uint64_t clock_pair_ns)
{
    /* glibc skips atomics until a thread exists; the harness always has threads. */
    pthread_t tid;
    pthread_create(&tid, NULL, idle_thread, NULL);
    pthread_join(tid, NULL);
    printf("quotakeeper_version: %s\n", qk_version_string());
    printf("compiler: %s (%s)\n", QK_PERF_COMPILER_ID, __VERSION__);
    printf("c_flags: %s\n", QK_PERF_C_FLAGS);
    printf("build_type: %s\n", QK_PERF_BUILD_TYPE);
    printf("link: %s\n", QK_PERF_LINK);
    printf("lock_checks: %s\n", QK_PERF_LOCK_CHECKS);
    printf("glibc_in_binary: %s\n", gnu_get_libc_version());
    printf("strategies:");
    for (size_t i = 0; i < perf_n_strategies; i++)
        printf(" %s", perf_strategies[i].name);
    printf("\ncores_online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("clock_monotonic_pair_ns: %llu\n", (unsigned long long)clock_pair_ns);
    printf("clock_realtime_coarse_ns: %.2f\n", ns_per_call_coarse(5000000));
    printf("mutex_lock_inc_unlock_ns: %.2f\n", ns_per_mutex_round(5000000));
}
