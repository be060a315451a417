/* The mutant's handshake: forces the spec's losing interleaving, deterministically.
 *
 * The mutant qk_record (racy_record.c, QK_MUTANT_RACY_RECORD) copies every count out under the
 * locks, unlocks, calls qk__mutant_hook, then adds its calls to the copy and writes the whole copy
 * back. This hook is a two-party rendezvous: the first thread to arrive waits for a second; when
 * one comes, both go on. Both copies were then taken before either write-back, so whichever
 * writes back second erases the other's increment, whatever the services: the spec's "thread A
 * reads (tiingo=0, finnhub=0), thread B reads the same, A writes tiingo=1, B writes finnhub=1
 * over it". Every pair loses an update, so a suite that checks exact totals fails every time,
 * not once in a while.
 *
 * Who waits: a thread waits only while at least two threads started by the test itself are
 * alive, so a partner can come. The test's pthread_create calls are wrapped (the link uses
 * -Wl,--wrap=pthread_create, which reaches the test's own objects, not Criterion's shared
 * library and its runner threads) to keep that count. Records made by the main thread alone (a
 * test's setup) never wait. A wait lasts at most WAIT_MS, and once a process has spent
 * BUDGET_MS waiting in vain the hook stops waiting, so a test whose other threads never record
 * (readers only) slows down by a bounded amount instead of timing out.
 *
 * The hook is installed by a constructor, which runs before Criterion's main and again in each
 * test process it starts. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "mutant.h"

enum { WAIT_MS = 100, BUDGET_MS = 1000 };

/* ---- the test's own threads ---- */

int __real_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);

static _Atomic int live; /* started by the test and not yet finished */

typedef struct {
    void *(*fn)(void *);
    void *arg;
} start;

static void finished(void *unused)
{
    (void)unused;
    atomic_fetch_sub(&live, 1);
}

static void *trampoline(void *p)
{
    const start s = *(start *)p;
    free(p);
    void *ret;
    pthread_cleanup_push(finished, NULL);
    ret = s.fn(s.arg);
    pthread_cleanup_pop(1);
    return ret;
}

int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    start *s = malloc(sizeof *s);
    if (s == NULL)
        return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    atomic_fetch_add(&live, 1);
    const int rc = __real_pthread_create(th, attr, trampoline, s);
    if (rc != 0) {
        atomic_fetch_sub(&live, 1);
        free(s);
    }
    return rc;
}

/* ---- the rendezvous ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t partner;
static int waiting;              /* a thread is parked, waiting for a partner */
static unsigned long generation; /* bumped when a parked thread is paired */
static unsigned long pairs;      /* rendezvous made: each one loses an update */
static int64_t wasted_ms;        /* waits that ended without a partner */

static void rendezvous(void)
{
    if (atomic_load(&live) < 2)
        return;
    pthread_mutex_lock(&lock);
    if (waiting) {
        /* The second party: release the first; both copies are now stale together. */
        waiting = 0;
        generation++;
        pairs++;
        pthread_cond_broadcast(&partner);
        pthread_mutex_unlock(&lock);
        return;
    }
    if (wasted_ms >= BUDGET_MS) {
        pthread_mutex_unlock(&lock);
        return;
    }
    waiting = 1;
    const unsigned long mine = generation;
    const int64_t began = qkt_mono_ms();
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += (long)WAIT_MS * 1000000;
    deadline.tv_sec += deadline.tv_nsec / 1000000000;
    deadline.tv_nsec %= 1000000000;
    while (generation == mine)
        if (pthread_cond_timedwait(&partner, &lock, &deadline) == ETIMEDOUT)
            break;
    if (generation == mine) { /* nobody came: go on alone */
        waiting = 0;
        wasted_ms += qkt_mono_ms() - began;
    }
    pthread_mutex_unlock(&lock);
}

static void report(void)
{
    if (pairs > 0 || wasted_ms > 0)
        fprintf(stderr,
                "mutant handshake: %lu interleavings forced, each losing an update; %lld ms "
                "waited in vain\n",
                pairs, (long long)wasted_ms);
}

__attribute__((constructor)) static void install(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&partner, &attr);
    pthread_condattr_destroy(&attr);
    qk__mutant_hook = rendezvous;
    atexit(report);
}
