/* Test-only: the racy-record mutant's seam (QK_MUTANT_RACY_RECORD builds, tests/mutation). Its
 * code is in tests/mutation/racy_record.c, compiled into the mutant library alone. */
#ifndef QK_MUTANT_H
#define QK_MUTANT_H

#include "quotakeeper.h"

/* The spec's bug: qk_record by copy-out, unlock, add, write-back of every service's counts. */
int qk__mutant_racy_record(qk_tracker *t, qk_service s, uint64_t n, qk_usage *out);

/* Runs between the copy-out and the write-back of every mutant qk_record, no lock held. */
extern void (*qk__mutant_hook)(void);

#endif
