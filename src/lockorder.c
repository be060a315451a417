#include "lockorder.h"

#ifdef QK_LOCK_CHECKS
#include <stdio.h>
#include <stdlib.h>

/* Deep enough for a snapshot of 4095 services; past that the checker says so and aborts. */
#define QK_LOCKORDER_MAX_HELD 4096

static _Thread_local int64_t held[QK_LOCKORDER_MAX_HELD];
static _Thread_local int n_held;

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

void qk_lockorder_acquire(int64_t rank)
{
    if (n_held > 0) {
        const int64_t top = held[n_held - 1];
        if (rank <= top)
            fail("taking", rank, top);
        if (top != QK_RANK_SNAPSHOT && held[0] != QK_RANK_SNAPSHOT)
            fail("taking a second slot lock outside the snapshot path:", rank, top);
    }
    if (n_held == QK_LOCKORDER_MAX_HELD) {
        fprintf(stderr, "quotakeeper lock-order checker: more than %d locks held\n",
                QK_LOCKORDER_MAX_HELD);
        abort();
    }
    held[n_held++] = rank;
}

void qk_lockorder_release(int64_t rank)
{
    if (n_held == 0 || held[n_held - 1] != rank) {
        if (n_held == 0) {
            fprintf(stderr, "quotakeeper lock-order violation: releasing %lld, none held\n",
                    (long long)rank);
            abort();
        }
        fail("releasing out of order", rank, held[n_held - 1]);
    }
    n_held--;
}
#endif
