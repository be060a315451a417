/* The SIGBUS guard of mapped state files (fault.h).
 *
 * Why a handler and not a size check per call: an fstat costs about 1.2 µs on the VMs the
 * project runs on, some forty times a private record, and would still leave a truncation between
 * the check and the access fatal. The handler costs nothing until a fault.
 *
 * What it does in the handler is async-signal-safe in practice: it reads atomics, and calls
 * mmap (a bare system call on Linux) to put private zero pages over the whole watched mapping,
 * so that the access that faulted, and every later one, reads and writes memory that exists.
 * It does not longjmp: the operation finishes on zeros, with every lock wrapper balanced, and
 * the tracker turns its answer into QK_ECORRUPT (tracker.c). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "fault.h"

/* Trackers on state files open at once in one process. Past it a mapping goes unwatched. */
#define QK__FAULT_WATCHES 256

static qk__fault_watch watches[QK__FAULT_WATCHES];
static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static atomic_int installed;

/* Hands a fault that is not ours to what the process had before us. */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, si, uc);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* The default (or an ignored SIGBUS, which the kernel does not honour for a real fault):
     * restore it and let the fault happen again, so the process dies of SIGBUS as it would have,
     * with its core. A SIGBUS sent with kill(2) does not recur: raise it again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGBUS, &dfl, NULL);
    if (si == NULL || si->si_code <= 0) {
        if (previous.sa_handler == SIG_DFL)
            raise(SIGBUS);
    }
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    const int saved_errno = errno;
    const uintptr_t addr = si != NULL && si->si_code > 0 ? (uintptr_t)si->si_addr : 0;
    for (unsigned i = 0; addr != 0 && i < QK__FAULT_WATCHES; i++) {
        qk__fault_watch *w = &watches[i];
        const uintptr_t base = atomic_load_explicit(&w->base, memory_order_acquire);
        const size_t size = atomic_load_explicit(&w->size, memory_order_relaxed);
        if (base == 0 || addr - base >= size)
            continue;
        /* Every page of it, not only the one that faulted: the rest of the file is gone or
         * going too, and one lost mapping is simpler to reason about than a patchwork. */
        void *p = mmap((void *)base, size, PROT_READ | PROT_WRITE,
                       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break; /* cannot repair: the fault stands */
        atomic_store_explicit(&w->lost, 1, memory_order_relaxed);
        qk__fault_watch *also = atomic_load_explicit(&w->also, memory_order_relaxed);
        if (also != NULL)
            atomic_store_explicit(&also->lost, 1, memory_order_relaxed);
        errno = saved_errno;
        return; /* the access runs again, on zeros */
    }
    errno = saved_errno;
    pass_on(sig, si, uc);
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sigemptyset(&sa.sa_mask);
    /* SA_ONSTACK: a program that set an alternate stack for faults wants it used. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    if (sigaction(SIGBUS, &sa, &previous) == 0)
        atomic_store(&installed, 1);
}

/* Unloaded (a dlclose'd binding): the handler's code goes away, so the disposition it replaced
 * comes back, unless the program has installed another since. */
__attribute__((destructor)) static void uninstall(void)
{
    if (!atomic_load(&installed))
        return;
    struct sigaction now;
    if (sigaction(SIGBUS, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
        now.sa_sigaction == on_sigbus)
        sigaction(SIGBUS, &previous, NULL);
}

qk__fault_watch *qk__fault_watch_add(void *base, size_t size, qk__fault_watch *also)
{
    pthread_once(&install_once, install);
    if (!atomic_load(&installed) || base == NULL || size == 0)
        return NULL;
    for (unsigned i = 0; i < QK__FAULT_WATCHES; i++) {
        qk__fault_watch *w = &watches[i];
        /* Claimed with a placeholder base while its size is still 0 (a free entry's), so the
         * handler matches nothing in it until it is filled. */
        uintptr_t expected = 0;
        if (!atomic_compare_exchange_strong(&w->base, &expected, (uintptr_t)1))
            continue;
        atomic_store_explicit(&w->lost, 0, memory_order_relaxed);
        atomic_store_explicit(&w->also, also, memory_order_relaxed);
        atomic_store_explicit(&w->size, size, memory_order_relaxed);
        atomic_store_explicit(&w->base, (uintptr_t)base, memory_order_release);
        return w;
    }
    return NULL;
}

int qk__fault_watch_remove(qk__fault_watch *w)
{
    if (w == NULL)
        return 0;
    const int lost = atomic_load(&w->lost);
    atomic_store_explicit(&w->size, 0, memory_order_relaxed);
    atomic_store_explicit(&w->base, 0, memory_order_release);
    atomic_store_explicit(&w->also, NULL, memory_order_relaxed);
    return lost;
}
