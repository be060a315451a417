/* stress_soak: random mixes of every public operation, under a watchdog; no deadlock.
 *
 * Usage: stress_soak [threads [ops_per_thread [seed]]]
 *        (or QK_STRESS_THREADS, QK_STRESS_OPS, QK_SOAK_SEED; QK_SOAK_STALL_S sets the watchdog's
 *        patience, 10 s by default)
 *
 * Each thread performs a fixed number of operations drawn from its own generator, seeded from
 * the run's seed and its index: qk_record, qk_try_consume (with and without QK_PRIORITY),
 * qk_refund, qk_peek, qk_set_used, qk_reset, qk_reset_all, qk_snapshot (also with a buffer too
 * small), qk_service_add until the tracker is full (and duplicates), qk_service_find,
 * qk_service_count, bad indices, and the clock jumping forward (windows roll). The event
 * callback calls back into the tracker: a peek on every event, a refund on EXHAUSTED, a
 * snapshot, a record on another service, a reset_all. The seed is printed; passing it back
 * replays the same operation sequences: each thread's operations and arguments (the service an
 * operation picks is drawn modulo the services that exist at that moment, and the interleaving
 * is the scheduler's).
 *
 * A watchdog thread fails the run, printing each thread's current operation, when no thread
 * completes an operation for the stall time: a deadlock shows as a report, not a hung CI job.
 * (QK_SOAK_INJECT_HANG=1 parks thread 0 halfway, to show the watchdog firing.)
 *
 * QK_SOAK_PREFILL=1 fills the tracker to capacity before the threads start, so their adds all
 * meet QK_EFULL: the helgrind run uses it. A new service is published with a C11 release store
 * that single-service calls read with an acquire load and no lock; helgrind does not model
 * atomics and would report every publication as a race. TSan does model them and runs the soak
 * with concurrent adds, as does the plain build.
 *
 * Invariants, all exact: every call returns one of the codes its contract allows for the
 * arguments given; every added service is found again under its own index and the count is the
 * initial services plus the successful adds, never above capacity; the events satisfy
 * evlog.h's checks (seq 1..M once each, level chains unbroken, final levels match).
 *
 * Interleavings caught: any lock cycle among slot locks, the snapshot lock, service_add and
 * callbacks that call back in (the watchdog; in Debug builds the lock-order checker aborts at
 * the first inversion even when the timing does not deadlock); a service published before its
 * slot is ready (a peek of a new index failing, or events with bad seq); events lost or doubled
 * between single-service and all-service operations and rollovers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "evlog.h"
#include "fail.h"
#include "program.h"
#include "threads.h"

enum { CAPACITY = 48, INITIAL = 4, MAX_THREADS = 256 };

typedef enum {
    OP_IDLE,
    OP_RECORD,
    OP_CONSUME,
    OP_REFUND,
    OP_PEEK,
    OP_SET_USED,
    OP_RESET,
    OP_RESET_ALL,
    OP_SNAPSHOT,
    OP_SNAPSHOT_SMALL,
    OP_ADD,
    OP_ADD_DUPLICATE,
    OP_FIND,
    OP_BAD_INDEX,
    OP_CLOCK,
    OP_HANG,
    OP_DONE,
    OP_COUNT_
} op_kind;

static const char *const op_names[OP_COUNT_] = {
    "idle",  "record",    "try_consume", "refund",          "peek",        "set_used",
    "reset", "reset_all", "snapshot",    "snapshot(small)", "service_add", "service_add(dup)",
    "find",  "bad index", "clock jump",  "injected hang",   "done"};

typedef struct {
    qk_tracker *t;
    pthread_barrier_t *go;
    qkt_clock *now;
    unsigned index;
    long ops;
    uint64_t rng;    /* the operations: the same for the same seed */
    uint64_t cb_rng; /* the callbacks' choices, which depend on the interleaving */
    qkt_evlog log;
    /* Read by the watchdog while the thread runs. */
    _Atomic long done;
    _Atomic int op;
    _Atomic int in_callback;
    /* The services this thread added: their indices and names. */
    unsigned n_added;
    qk_service added[CAPACITY];
    char added_name[CAPACITY][QK_NAME_MAX];
} worker;

static _Thread_local worker *me;
static _Thread_local int callback_depth;
static int inject_hang;

static uint64_t next(uint64_t *s)
{
    /* splitmix64: small, good enough, and the same everywhere. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static unsigned below(uint64_t *s, unsigned n)
{
    return (unsigned)(next(s) % n);
}

static int rc_in(int rc, int a, int b)
{
    return rc == a || rc == b;
}

static void on_event(const qk_event *ev, void *payload)
{
    qk_tracker *t = *(qk_tracker **)payload;
    qkt_evlog_append(ev);
    if (me != NULL)
        atomic_store_explicit(&me->in_callback, 1, memory_order_relaxed);
    qk_usage u;
    CHECK_RC(qk_peek(t, ev->service, &u), QK_OK);
    /* One level of callbacks that change the tracker; deeper ones only look. */
    if (callback_depth == 0 && me != NULL) {
        callback_depth++;
        const unsigned n = (unsigned)qk_service_count(t);
        switch (below(&me->cb_rng, 8)) {
        case 0:
            if (ev->to == QK_LEVEL_EXHAUSTED)
                CHECK_RC(qk_refund(t, ev->service, 1), QK_OK);
            break;
        case 1: {
            qk_usage snap[CAPACITY];
            size_t count = 0;
            CHECK_RC(qk_snapshot(t, snap, CAPACITY, &count), QK_OK);
            break;
        }
        case 2:
            CHECK_RC(qk_record(t, below(&me->cb_rng, n), 1, NULL), QK_OK);
            break;
        case 3:
            if (below(&me->cb_rng, 16) == 0)
                CHECK_RC(qk_reset_all(t), QK_OK);
            break;
        default:
            break;
        }
        callback_depth--;
    }
    if (me != NULL)
        atomic_store_explicit(&me->in_callback, 0, memory_order_relaxed);
}

static void one_op(worker *w, op_kind op)
{
    qk_tracker *t = w->t;
    uint64_t *r = &w->rng;
    const unsigned n = (unsigned)qk_service_count(t);
    const qk_service s = below(r, n);
    qk_usage u;
    int rc;
    switch (op) {
    case OP_RECORD:
        CHECK_RC(qk_record(t, s, 1 + below(r, 4), below(r, 2) ? &u : NULL), QK_OK);
        break;
    case OP_CONSUME:
        rc = qk_try_consume(t, s, 1 + below(r, 4), below(r, 4) == 0 ? QK_PRIORITY : 0, &u);
        CHECK(rc_in(rc, QK_OK, QK_ELIMIT), "try_consume: rc %d (%s)", rc, qk_errmsg());
        CHECK(rc != QK_ELIMIT || (u.tripped >= 0 && (unsigned)u.tripped < u.n_windows),
              "a refusal names window %d of %u", u.tripped, u.n_windows);
        break;
    case OP_REFUND:
        CHECK_RC(qk_refund(t, s, 1 + below(r, 4)), QK_OK);
        break;
    case OP_PEEK:
        CHECK_RC(qk_peek(t, s, &u), QK_OK);
        CHECK(u.service == s && u.n_windows >= 1 && u.n_windows <= QK_MAX_WINDOWS,
              "peek of %u: service %u with %u windows", s, u.service, u.n_windows);
        break;
    case OP_SET_USED: {
        CHECK_RC(qk_peek(t, s, &u), QK_OK);
        const unsigned win = below(r, QK_MAX_WINDOWS + 1);
        rc = qk_set_used(t, s, win, below(r, 120));
        CHECK(rc == (win < u.n_windows ? QK_OK : QK_EINVAL), "set_used window %u of %u: rc %d", win,
              u.n_windows, rc);
        break;
    }
    case OP_RESET:
        CHECK_RC(qk_reset(t, s), QK_OK);
        break;
    case OP_RESET_ALL:
        CHECK_RC(qk_reset_all(t), QK_OK);
        break;
    case OP_SNAPSHOT: {
        qk_usage snap[CAPACITY];
        size_t count = 0;
        CHECK_RC(qk_snapshot(t, snap, CAPACITY, &count), QK_OK);
        CHECK(count >= n && count <= CAPACITY, "snapshot of %zu services, %u seen before", count,
              n);
        for (size_t i = 0; i < count && i < CAPACITY; i++)
            CHECK(snap[i].service == i, "snapshot entry %zu is service %u", i, snap[i].service);
        break;
    }
    case OP_SNAPSHOT_SMALL: {
        qk_usage snap[2];
        size_t count = 0;
        rc = qk_snapshot(t, snap, 2, &count);
        CHECK(rc == QK_ERANGE && count >= n, "snapshot into 2: rc %d, count %zu of %u", rc, count,
              n);
        rc = qk_snapshot(t, NULL, 0, &count);
        CHECK(rc == QK_ERANGE && count >= n, "snapshot query: rc %d, count %zu of %u", rc, count,
              n);
        break;
    }
    case OP_ADD: {
        if (w->n_added == CAPACITY)
            break;
        char name[QK_NAME_MAX];
        snprintf(name, sizeof name, "dyn-%u-%u", w->index, w->n_added);
        qk_service_def def = {.name = name, .warn_pct = (uint8_t)(10 + below(r, 40))};
        def.windows[0] = (qk_window_def){(qk_period)below(r, 5), 5 + below(r, 60)};
        if (below(r, 2))
            def.windows[1] = (qk_window_def){QK_FOREVER, 100 + below(r, 100)};
        qk_service id = UINT32_MAX;
        rc = qk_service_add(t, &def, &id);
        CHECK(rc_in(rc, QK_OK, QK_EFULL), "service_add: rc %d (%s)", rc, qk_errmsg());
        if (rc == QK_OK) {
            CHECK(id < CAPACITY, "service_add gave index %u", id);
            w->added[w->n_added] = id;
            memcpy(w->added_name[w->n_added], name, QK_NAME_MAX);
            w->n_added++;
            CHECK_RC(qk_peek(t, id, &u), QK_OK); /* usable at once */
        } else {
            CHECK(qk_service_count(t) == CAPACITY, "EFULL with %zu of %d services",
                  qk_service_count(t), CAPACITY);
        }
        break;
    }
    case OP_ADD_DUPLICATE: {
        qk_service_def def = {.name = "svc0"};
        def.windows[0] = (qk_window_def){QK_DAY, 10};
        CHECK_RC(qk_service_add(t, &def, NULL), QK_EEXIST);
        break;
    }
    case OP_FIND: {
        qk_service id;
        char name[QK_NAME_MAX];
        snprintf(name, sizeof name, "svc%u", below(r, INITIAL));
        CHECK_RC(qk_service_find(t, name, &id), QK_OK);
        CHECK_RC(qk_service_find(t, "no-such-service", &id), QK_ENOENT);
        break;
    }
    case OP_BAD_INDEX:
        CHECK_RC(qk_record(t, CAPACITY + below(r, 5), 1, NULL), QK_ENOENT);
        CHECK_RC(qk_peek(t, UINT32_MAX, &u), QK_ENOENT);
        break;
    case OP_CLOCK: {
        /* A minute, an hour, a day or a month: windows roll on their next access. */
        static const int64_t jumps[] = {60000, 3600000, 86400000, INT64_C(31) * 86400000};
        qkt_clock_advance(w->now, jumps[below(r, 4)]);
        break;
    }
    case OP_HANG:
        for (;;)
            pause();
    default:
        break;
    }
}

/* Weighted: mostly single-service operations, some of everything else. */
static op_kind pick(uint64_t *r)
{
    const unsigned x = below(r, 1000);
    if (x < 300)
        return OP_RECORD;
    if (x < 500)
        return OP_CONSUME;
    if (x < 580)
        return OP_REFUND;
    if (x < 700)
        return OP_PEEK;
    if (x < 740)
        return OP_SET_USED;
    if (x < 770)
        return OP_RESET;
    if (x < 790)
        return OP_RESET_ALL;
    if (x < 850)
        return OP_SNAPSHOT;
    if (x < 860)
        return OP_SNAPSHOT_SMALL;
    if (x < 900)
        return OP_ADD;
    if (x < 910)
        return OP_ADD_DUPLICATE;
    if (x < 940)
        return OP_FIND;
    if (x < 960)
        return OP_BAD_INDEX;
    if (x < 965)
        return OP_CLOCK;
    return OP_RECORD;
}

static void *run(void *arg)
{
    worker *w = arg;
    me = w;
    qkt_evlog_mine = &w->log;
    pthread_barrier_wait(w->go);
    for (long k = 0; k < w->ops; k++) {
        op_kind op = pick(&w->rng);
        if (inject_hang && w->index == 0 && k == w->ops / 2)
            op = OP_HANG;
        atomic_store_explicit(&w->op, op, memory_order_relaxed);
        one_op(w, op);
        atomic_store_explicit(&w->done, k + 1, memory_order_relaxed);
    }
    atomic_store_explicit(&w->op, OP_DONE, memory_order_relaxed);
    qkt_evlog_mine = NULL;
    me = NULL;
    return NULL;
}

typedef struct {
    worker *w;
    long threads;
    long stall_s;
    uint64_t seed;
    _Atomic int finished;
} watchdog;

static void *watch(void *arg)
{
    watchdog *d = arg;
    long last = -1;
    struct timespec since;
    clock_gettime(CLOCK_MONOTONIC, &since);
    while (!atomic_load(&d->finished)) {
        const struct timespec tick = {0, 50 * 1000 * 1000};
        nanosleep(&tick, NULL);
        long total = 0;
        for (long i = 0; i < d->threads; i++)
            total += atomic_load_explicit(&d->w[i].done, memory_order_relaxed);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (total != last) {
            last = total;
            since = now;
            continue;
        }
        const long stalled_ms =
            (long)(now.tv_sec - since.tv_sec) * 1000 + (now.tv_nsec - since.tv_nsec) / 1000000;
        if (stalled_ms < d->stall_s * 1000)
            continue;
        fprintf(stderr,
                "stress_soak: FAIL: no progress for %ld s (seed 0x%016llx); where each thread "
                "is:\n",
                d->stall_s, (unsigned long long)d->seed);
        for (long i = 0; i < d->threads; i++) {
            const int op = atomic_load_explicit(&d->w[i].op, memory_order_relaxed);
            fprintf(stderr, "  thread %ld: %s%s, %ld of %ld ops done\n", i,
                    op >= 0 && op < OP_COUNT_ ? op_names[op] : "?",
                    atomic_load_explicit(&d->w[i].in_callback, memory_order_relaxed)
                        ? " (in an event callback)"
                        : "",
                    atomic_load_explicit(&d->w[i].done, memory_order_relaxed), d->w[i].ops);
        }
        fflush(stderr);
        _exit(1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const long threads = qkt_param(argc, argv, 1, "QK_STRESS_THREADS", 8);
    const long ops = qkt_param(argc, argv, 2, "QK_STRESS_OPS", 20000);
    const char *seed_arg = argc > 3 ? argv[3] : getenv("QK_SOAK_SEED");
    const long stall_s = qkt_param(0, NULL, 0, "QK_SOAK_STALL_S", 10);
    inject_hang = getenv("QK_SOAK_INJECT_HANG") != NULL;
    if (threads < 1 || threads > MAX_THREADS || stall_s < 1) {
        fprintf(stderr, "need 1 <= threads <= %d and a stall time of at least 1 s\n", MAX_THREADS);
        return 2;
    }
    uint64_t seed;
    if (seed_arg != NULL && *seed_arg != '\0') {
        seed = strtoull(seed_arg, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        const uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        uint64_t mix = ns ^ ((uint64_t)getpid() << 32);
        seed = next(&mix);
    }
    printf("stress_soak: %ld threads x %ld ops, seed 0x%016llx (replay: %s %ld %ld 0x%016llx)\n",
           threads, ops, (unsigned long long)seed, argv[0], threads, ops, (unsigned long long)seed);
    fflush(stdout);

    qkt_clock now = {QKT_T0_MS};
    const unsigned initial = getenv("QK_SOAK_PREFILL") ? CAPACITY : INITIAL;
    qk_service_def defs[CAPACITY];
    char names[CAPACITY][8];
    memset(defs, 0, sizeof defs);
    static const qk_period periods[INITIAL] = {QK_MINUTE, QK_DAY, QK_MONTH, QK_HOUR};
    for (unsigned i = 0; i < initial; i++) {
        snprintf(names[i], sizeof names[i], "svc%u", i);
        defs[i].name = names[i];
        defs[i].windows[0] = (qk_window_def){periods[i % INITIAL], 20 + 10 * (i % INITIAL)};
        defs[i].windows[1] = (qk_window_def){QK_FOREVER, 400};
        defs[i].reserve = i % INITIAL;
    }
    qk_tracker *t;
    qk_options opts = qkt_clocked_options(defs, initial, &now);
    opts.capacity = CAPACITY;
    opts.on_event = on_event;
    opts.payload = &t;
    qkt_tracker_new_or_exit(&t, &opts);

    qkt_crew crew;
    qkt_crew_init(&crew, threads, 0);
    worker *w = qkt_calloc((size_t)threads, sizeof *w);
    for (long i = 0; i < threads; i++) {
        w[i].t = t;
        w[i].go = &crew.go;
        w[i].now = &now;
        w[i].index = (unsigned)i;
        w[i].ops = ops;
        uint64_t mix = seed + (uint64_t)i;
        w[i].rng = next(&mix);
        w[i].cb_rng = next(&mix);
        QKT_HG_IGNORE(&w[i].done, sizeof w[i].done);
        QKT_HG_IGNORE(&w[i].op, sizeof w[i].op);
        QKT_HG_IGNORE(&w[i].in_callback, sizeof w[i].in_callback);
    }
    watchdog dog = {w, threads, stall_s, seed, 0};
    pthread_t dog_thread;
    qkt_threads_start(&dog_thread, 1, watch, &dog, 0);
    qkt_crew_start(&crew, run, w, sizeof *w);
    qkt_crew_join(&crew);
    atomic_store(&dog.finished, 1);
    pthread_join(dog_thread, NULL);

    /* Every add is found under its index; the count adds up. */
    size_t added = 0;
    for (long i = 0; i < threads; i++)
        for (unsigned j = 0; j < w[i].n_added; j++) {
            qk_service id = UINT32_MAX;
            CHECK_RC(qk_service_find(t, w[i].added_name[j], &id), QK_OK);
            CHECK(id == w[i].added[j], "'%s' was added as %u, found as %u", w[i].added_name[j],
                  w[i].added[j], id);
            added++;
        }
    const size_t n = qk_service_count(t);
    CHECK(n == initial + added && n <= CAPACITY, "%zu services, %u initial + %zu added", n, initial,
          added);

    qkt_evlog *logs = qkt_calloc((size_t)threads + 1, sizeof *logs);
    for (long i = 0; i < threads; i++)
        logs[i] = w[i].log;
    qk_usage *final = qkt_evlog_final_usage(t, n, &logs[threads]);
    const size_t events = qkt_evlog_check(logs, (size_t)threads + 1, final, n, NULL);
    printf("%zu services (%zu added), %zu level changes, each delivered once\n", n, added, events);

    qk_tracker_free(t);
    qkt_evlog_free_all(logs, (size_t)threads + 1);
    free(final);
    free(w);
    qkt_crew_destroy(&crew);
    if (qkt_failures() > 0)
        fprintf(stderr, "replay with seed 0x%016llx\n", (unsigned long long)seed);
    return qkt_verdict("stress_soak");
}
