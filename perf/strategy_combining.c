/* combining: `sharded` with a combining slot lock (issue 12's last candidate for the hot
 * service). A thread that finds its slot's lock taken publishes its operation on the slot's
 * list and waits for it to be done; the lock's holder, before it lets go, applies every
 * published operation in the same hold. One hand-off of the lock then serves a batch, and a
 * waiter is woken once, with its answer, instead of competing for the lock again.
 *
 * The same slot update as `sharded` and `global-slot` (qk__slot_apply on quotakeeper's slots,
 * inside a copy of qk_record's shell: the service check, the built-in clock read under the
 * lock), so the one difference is the lock's protocol. A prototype in perf/ only: no events,
 * no usage copy, no state file (docs/perf/hot-path.md says what the library would need).
 *
 * Why no waiter is stranded: a waiter publishes (seq_cst) before it tries the lock; a holder
 * lets go, then looks at the list (seq_cst) and combines again if it can take the lock. So a
 * waiter whose try failed was published before some holder looked after letting go. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "slot.h"
#include "tracker.h" /* qk__system_clock_ms */

typedef struct request {
    struct request *next;
    qk_op op;
    int rc;
    _Atomic uint32_t state; /* PENDING, then DONE; SLEEPING while its thread waits in futex */
} request;

enum { PENDING = 0, DONE = 1, SLEEPING = 2 };

/* Polls of its request's state before a waiter sleeps. Measured on 2 cores (hot-path.md): 0 and
 * 2,000 did no better; yielding the processor between polls did no better either. */
#define SPIN 64

typedef struct {
    _Alignas(128) pthread_mutex_t lock;
    _Atomic(request *) published;
} combining_lock;

typedef struct {
    _Atomic uint32_t n_services; /* as the region's header: read with acquire at every call */
    combining_lock *locks;
    qk_slot *slots;
} combining_state;

static void *adapter_create(const perf_setup *setup)
{
    combining_state *st = perf_alloc(sizeof *st);
    atomic_store(&st->n_services, setup->n_services);
    st->locks = perf_alloc(setup->n_services * sizeof *st->locks);
    st->slots = perf_alloc(setup->n_services * sizeof *st->slots);
    qk_event_sink no_events = {NULL, 0, 0};
    const int64_t now = qk__system_clock_ms(NULL);
    for (uint32_t s = 0; s < setup->n_services; s++) {
        pthread_mutex_init(&st->locks[s].lock, NULL);
        atomic_init(&st->locks[s].published, NULL);
        const qk_service_def def = {.name = setup->names[s],
                                    .windows = {{QK_FOREVER, setup->limits[s]}}};
        qk__slot_configure(&st->slots[s], NULL, s, &def, 1, NULL, now, &no_events);
    }
    return st;
}

static void adapter_destroy(void *state)
{
    combining_state *st = state;
    for (uint32_t s = 0; s < st->n_services; s++)
        pthread_mutex_destroy(&st->locks[s].lock);
    free(st->locks);
    free(st->slots);
    free(st);
}

/* With the lock held: applies everything published, until the list stays empty. Returns the
 * requests applied, chained, for finish() to answer once the lock is let go: a wake-up is a
 * system call, and a slot lock is a leaf. */
static inline __attribute__((always_inline)) request *combine(combining_state *st, uint32_t s,
                                                              int64_t now)
{
    combining_lock *cl = &st->locks[s];
    qk_event_sink no_events = {NULL, 0, 0};
    request *applied = NULL, *r;
    /* Looked at before it is taken: an exchange is a locked instruction, and a lone thread
     * would pay it at every call. */
    while (atomic_load_explicit(&cl->published, memory_order_relaxed) != NULL &&
           (r = atomic_exchange(&cl->published, NULL)) != NULL) {
        while (r != NULL) {
            request *next = r->next;
            int tripped = -1;
            r->rc = qk__slot_apply(&st->slots[s], NULL, s, &r->op, now, &no_events, &tripped);
            r->next = applied;
            applied = r;
            r = next;
        }
    }
    return applied;
}

/* Answers the requests combine() applied: each is its waiter's again once DONE is set. */
static void finish(request *r)
{
    while (r != NULL) {
        request *next = r->next;
        if (atomic_exchange(&r->state, DONE) == SLEEPING)
            syscall(SYS_futex, &r->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        r = next;
    }
}

/* Lets go of the lock, answers the batch, then serves anything published meanwhile (see the top
 * of this file). */
static inline __attribute__((always_inline)) void release(combining_state *st, uint32_t s,
                                                          request *batch)
{
    combining_lock *cl = &st->locks[s];
    for (;;) {
        pthread_mutex_unlock(&cl->lock);
        finish(batch);
        if (atomic_load(&cl->published) == NULL || pthread_mutex_trylock(&cl->lock) != 0)
            return;
        batch = combine(st, s, qk__system_clock_ms(NULL));
    }
}

static inline __attribute__((always_inline)) int apply(combining_state *st, uint32_t s,
                                                       qk_op_kind kind, uint64_t n)
{
    if (n == 0)
        return QK_EINVAL;
    if (s >= atomic_load_explicit(&st->n_services, memory_order_acquire))
        perf_die("service %u of %u", s, atomic_load(&st->n_services));
    combining_lock *cl = &st->locks[s];
    const qk_op op = {kind, n, 0, 0};
    if (pthread_mutex_trylock(&cl->lock) == 0) { /* uncontended: as `sharded` */
        const int64_t now = qk__system_clock_ms(NULL);
        int tripped = -1;
        qk_event_sink no_events = {NULL, 0, 0};
        const int rc = qk__slot_apply(&st->slots[s], NULL, s, &op, now, &no_events, &tripped);
        release(st, s, combine(st, s, now));
        return rc;
    }
    request r = {NULL, op, 0, PENDING};
    request *head = atomic_load(&cl->published);
    do
        r.next = head;
    while (!atomic_compare_exchange_weak(&cl->published, &head, &r));
    if (pthread_mutex_trylock(&cl->lock) == 0) /* r among what it applies */
        release(st, s, combine(st, s, qk__system_clock_ms(NULL)));
    for (unsigned i = 0; i < SPIN && atomic_load(&r.state) != DONE; i++)
        __builtin_ia32_pause();
    uint32_t expected = PENDING;
    if (atomic_compare_exchange_strong(&r.state, &expected, SLEEPING))
        while (atomic_load(&r.state) == SLEEPING)
            syscall(SYS_futex, &r.state, FUTEX_WAIT_PRIVATE, SLEEPING, NULL, NULL, 0);
    return r.rc;
}

/* Out of line as qk_record is: the public function's test and jump, then its path. */
#define COMBINING_CALL(name, kind)                                                                 \
    __attribute__((noipa)) static int name##_private(combining_state *st, uint32_t s, uint64_t n)  \
    {                                                                                              \
        return apply(st, s, kind, n);                                                              \
    }                                                                                              \
    __attribute__((noinline)) static int name##_call(combining_state *st, uint32_t s)              \
    {                                                                                              \
        if (st == NULL)                                                                            \
            return QK_EINVAL;                                                                      \
        return name##_private(st, s, 1);                                                           \
    }
COMBINING_CALL(record, QK_OP_RECORD)
COMBINING_CALL(consume, QK_OP_CONSUME)
COMBINING_CALL(refund, QK_OP_REFUND)
#undef COMBINING_CALL
#include "call_ops.h"

/* Every slot lock in ascending order (the only taker of more than one), each slot rolled and
 * read; what is published meanwhile is applied by the snapshot's release. */
static void adapter_snapshot(void *state, uint64_t *used)
{
    combining_state *st = state;
    const uint32_t n = atomic_load(&st->n_services);
    const int64_t now = qk__system_clock_ms(NULL);
    const qk_op peek = {QK_OP_PEEK, 0, 0, 0};
    qk_event_sink no_events = {NULL, 0, 0};
    int tripped = -1;
    for (uint32_t s = 0; s < n; s++)
        pthread_mutex_lock(&st->locks[s].lock);
    for (uint32_t s = 0; s < n; s++) {
        qk__slot_apply(&st->slots[s], NULL, s, &peek, now, &no_events, &tripped);
        used[s] = st->slots[s].w[0].used;
    }
    for (uint32_t s = n; s-- > 0;)
        release(st, s, combine(st, s, now));
}

#define ADAPTER_SYMBOL perf_adapter_combining
#include "strategy_template.h"
