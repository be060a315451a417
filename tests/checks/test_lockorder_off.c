/* Without QK_LOCK_CHECKS (release builds) the checker compiles to nothing: this file is built
 * without the define, so lockorder.h gives it the empty inline versions, and the worst
 * inversions pass silently. (The same executable links the checked library for
 * test_lockorder.c; each file sees the header as it was compiled.) */
#include <criterion/criterion.h>

#include "lockorder.h"

#ifdef QK_LOCK_CHECKS
#error "test_lockorder_off.c must be compiled without QK_LOCK_CHECKS"
#endif

Test(lockorder_off, inversions_compile_to_nothing)
{
    qk__lockorder_acquire(QK_RANK_SLOT(2));
    qk__lockorder_acquire(QK_RANK_SLOT(1));
    qk__lockorder_acquire(QK_RANK_SNAPSHOT);
    qk__lockorder_release(QK_RANK_SLOT(9));
    cr_assert(1, "no abort");
}
