#include "lockorder.h"

#ifdef QK_LOCK_CHECKS
#include <stdio.h>
#include <stdlib.h>

/* A thread's held locks, as runs of consecutive ranks taken in ascending order: an
 * all-services pass over n slots is one run, so the depth is bounded by how many separate
 * acquisitions nest, not by the number of services. */
#define QK_LOCKORDER_MAX_RUNS 64

typedef struct {
    int64_t lo, hi;
} rank_run;

static _Thread_local rank_run runs[QK_LOCKORDER_MAX_RUNS];
static _Thread_local int n_runs;

static void describe(char *buf, size_t len, int64_t rank)
{
    if (rank == QK_RANK_SNAPSHOT)
        snprintf(buf, len, "the snapshot lock");
    else
        snprintf(buf, len, "slot lock %lld", (long long)rank);
}

static void fail(const char *what, int64_t taking, int64_t holding)
{
    char a[48], b[48];
    describe(a, sizeof a, taking);
    describe(b, sizeof b, holding);
    fprintf(stderr, "quotakeeper lock-order violation: %s %s while holding %s\n", what, a, b);
    abort();
}

void qk__lockorder_acquire(int64_t rank)
{
    if (n_runs > 0) {
        const int64_t top = runs[n_runs - 1].hi;
        if (rank <= top)
            fail("taking", rank, top);
        if (top != QK_RANK_SNAPSHOT && runs[0].lo != QK_RANK_SNAPSHOT)
            fail("taking a second slot lock outside the snapshot path:", rank, top);
        if (rank == top + 1) {
            runs[n_runs - 1].hi = rank;
            return;
        }
    }
    if (n_runs == QK_LOCKORDER_MAX_RUNS) {
        fprintf(stderr, "quotakeeper lock-order checker: more than %d separate lock runs held\n",
                QK_LOCKORDER_MAX_RUNS);
        abort();
    }
    runs[n_runs++] = (rank_run){rank, rank};
}

void qk__lockorder_release(int64_t rank)
{
    if (n_runs == 0) {
        fprintf(stderr, "quotakeeper lock-order violation: releasing %lld, none held\n",
                (long long)rank);
        abort();
    }
    rank_run *top = &runs[n_runs - 1];
    if (top->hi != rank)
        fail("releasing out of order", rank, top->hi);
    if (top->hi-- == top->lo)
        n_runs--;
}
#endif
