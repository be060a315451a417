/* The strategies qk_perf compares: the one list of them.
 *
 * A row X(id, name, snapshot, role, chart style, locking) says
 *   id        its adapter: strategy_<id>.c defines perf_adapter_<id> (the build takes every
 *             strategy_*.c);
 *   name      what the command line, the CSV and the report call it;
 *   snapshot  what its snapshot promises (harness.h), which the validators hold it to;
 *   role      PERF_ROLE_SUBJECT is the strategy under test (its line is drawn thicker and it is
 *             the numerator of the tables' ratio column), PERF_ROLE_BASELINE the denominator;
 *   style     its gnuplot line style, so that a colour means the same strategy in every chart;
 *   locking   one line for the report: what guards what.
 * Rows run and are reported in this order. Nothing else lists the strategies: the report reads
 * them from `qk_perf --list`.
 *
 * PERF_STORE_STRATEGIES are the rows whose calls share a quota through a store (Redis or
 * DynamoDB's emulator dynalite, which qk_perf starts: redis_server.h, ddb_server.h). A round trip
 * per call would make the local workloads and the 64-service validators take minutes, so they have
 * a scope of their own (workload.h, workload_takes): the grant workload at the spec's 3 services,
 * their validators at 3 services, the figures that name them and the lease experiment (lease.h). */
#ifndef QK_PERF_STRATEGIES_H
#define QK_PERF_STRATEGIES_H

#include <stddef.h>
#include <stdio.h>

#include "harness.h"

typedef enum { PERF_ROLE_PEER, PERF_ROLE_SUBJECT, PERF_ROLE_BASELINE } perf_role;

#ifdef QK_PERF_HAVE_CK /* libck-dev is optional (perf/CMakeLists.txt) */
#define PERF_STRATEGY_CK(X)                                                                        \
    X(ck, "ck", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER, "lc rgb '#9467bd' pt 11",                \
      "a Concurrency Kit spinlock (ck_spinlock_t, fetch-and-store) per 128-byte slot")
#else
#define PERF_STRATEGY_CK(X)
#endif

#define PERF_STRATEGIES(X)                                                                         \
    X(racy, "racy", PERF_SNAPSHOT_LOSSY, PERF_ROLE_PEER, "lc rgb 'gray60' dt 2 pt 1",              \
      "one mutex around the copy-out and around the write-back, not between")                      \
    X(global, "global", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_BASELINE, "lc rgb '#d62728' pt 5",     \
      "one mutex around every read-modify-write and snapshot (the spec's fix)")                    \
    X(global_slot, "global-slot", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER,                        \
      "lc rgb '#8c564b' pt 4",                                                                     \
      "one mutex, as `global`, around quotakeeper's own slot update (windows, rollover, levels, "  \
      "overflow): the spec's fix doing quotakeeper's work")                                        \
    X(combining, "combining", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER, "lc rgb '#aec7e8' pt 8",   \
      "`global-slot`'s work with a mutex per slot whose holder applies the operations that "       \
      "waiters published meanwhile (flat combining; a prototype)")                                 \
    X(rwlock, "rwlock", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER, "lc rgb '#ff7f0e' pt 9",         \
      "one rwlock: updates as writers, snapshots as readers")                                      \
    X(sharded, "sharded", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_SUBJECT, "lc rgb '#1f77b4' pt 7",    \
      "quotakeeper: a mutex per 128-byte slot; snapshot lock, then all slot locks")                \
    X(sharded_shared, "sharded-shared", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER,                  \
      "lc rgb '#17becf' pt 6",                                                                     \
      "quotakeeper on a state file: robust process-shared slot mutexes, journaled updates")        \
    X(floor, "floor", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER, "lc rgb '#2ca02c' dt 4 pt 13",     \
      "a mutex per 128-byte slot doing only lock, increment, unlock")                              \
    X(atomic, "atomic", PERF_SNAPSHOT_TORN_OK, PERF_ROLE_PEER, "lc rgb 'black' dt 3 pt 2",         \
      "no lock: fetch_add per record, CAS loop per consume")                                       \
    PERF_STRATEGY_CK(X)

#define PERF_STORE_STRATEGIES(X)                                                                   \
    X(leased, "leased", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER, "lc rgb '#e377c2' pt 7",         \
      "quotakeeper (`sharded`) with a Redis store attached and a lease in hand (lease_max 10^7): " \
      "consumes stay local, a sync thread reports and tops up")                                    \
    X(lua_per_call, "lua-per-call", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER,                      \
      "lc rgb '#bcbd22' pt 3",                                                                     \
      "one EVALSHA per consume on Redis: a script checks the counter against the limit and "       \
      "INCRBYs it, exact per call")                                                                \
    X(incrby_pipelined, "incrby-pipelined", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER,              \
      "lc rgb '#7f7f7f' dt 2 pt 8",                                                                \
      "envoy-style: INCRBY and EXPIRE pipelined per consume on Redis, one round trip, granted "    \
      "while the new count is within the limit")                                                   \
    X(leased_ddb, "leased-ddb", PERF_SNAPSHOT_CONSISTENT, PERF_ROLE_PEER,                          \
      "lc rgb '#e377c2' dt 4 pt 15",                                                               \
      "`leased` on the DynamoDB store (dynalite, ddb_server.h): a lease in hand, a sync is a "     \
      "GetItem and a conditional PutItem")                                                         \
    X(ddb_per_call, "ddb-per-call", PERF_SNAPSHOT_TORN_OK, PERF_ROLE_PEER,                         \
      "lc rgb '#bcbd22' dt 4 pt 12",                                                               \
      "one conditional UpdateItem per consume on DynamoDB (dynalite): ADD used :n if used <= "     \
      "limit - n, exact per call; snapshots read items one by one")

/* Where a strategy runs (workload.h, workload_takes). */
typedef enum { PERF_SCOPE_LOCAL, PERF_SCOPE_STORE } perf_scope;

typedef struct {
    const char *name;
    perf_snapshot_kind snapshot_kind;
    perf_role role;
    perf_scope scope;
    const char *chart_style;
    const char *lock;
    const perf_adapter *ops;
} perf_strategy;

/* Every row of PERF_STRATEGIES built into this binary, in order. */
extern const perf_strategy perf_strategies[];
extern const size_t perf_n_strategies;

/* The strategy called name, or NULL. */
const perf_strategy *perf_strategy_named(const char *name);

/* `qk_perf --list`: one CSV line per strategy (name, snapshot, role, scope, chart style,
 * locking), which the report reads instead of a list of its own. */
void perf_print_strategies(FILE *f);

/* The names, comma-separated, for --help. */
void perf_print_strategy_names(FILE *f);

#endif
