/* Test-only mutant (tests/mutation), compiled into the qk_mutant library alone: the spec's bug
 * shape. The whole tracker's counts are copied out under the locks (the spec's "cached
 * tracker"), the locks are dropped, the copy is incremented for one service, and the whole copy
 * is written back under the locks again, so a record to any service that lands in between is
 * overwritten. qk__mutant_hook runs in the gap so a test can force that interleaving. qk_record
 * calls this instead of its real path when QK_MUTANT_RACY_RECORD is defined. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "locking.h"
#include "tracker.h"
#include "mutant.h"

void (*qk__mutant_hook)(void);

int qk__mutant_racy_record(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out)
{
    const uint32_t count = qk__published(t);
    if (s >= count)
        return qk__fail(QK_ENOENT, "service index %u is not registered (%u services)", s, count);
    uint64_t(*copy)[QK_MAX_WINDOWS] = calloc(count, sizeof *copy);
    if (copy == NULL)
        return qk__fail(QK_ENOMEM, "mutant: no memory");

    int rc = lock_all(&t->region, count);
    if (rc != QK_OK) {
        free(copy);
        return rc;
    }
    for (uint32_t i = 0; i < count; i++)
        for (unsigned w = 0; w < t->slots[i].n_windows; w++)
            copy[i][w] = t->slots[i].w[w].used;
    unlock_all(&t->region, count);
    if (qk__mutant_hook != NULL)
        qk__mutant_hook();
    for (unsigned w = 0; w < t->slots[s].n_windows; w++)
        copy[s][w] += n;
    if ((rc = lock_all(&t->region, count)) != QK_OK) {
        free(copy);
        return rc;
    }
    for (uint32_t i = 0; i < count; i++)
        for (unsigned w = 0; w < t->slots[i].n_windows; w++)
            t->slots[i].w[w].used = copy[i][w];
    if (out != NULL)
        qk__slot_usage(&t->slots[s], s, -1, out);
    unlock_all(&t->region, count);
    free(copy);
    if (out != NULL)
        memcpy(out->name, t->names[s], QK_NAME_MAX);
    return QK_OK;
}
