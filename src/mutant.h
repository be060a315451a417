/* Test-only: the hook of the racy-record mutant (QK_MUTANT_RACY_RECORD). It runs between the
 * copy-out and the write-back of every qk_record, with no lock held. */
#ifndef QK_MUTANT_H
#define QK_MUTANT_H

extern void (*qk__mutant_hook)(void);

#endif
