/* Test-only (QK_TEST_HOOKS builds, never installed): points inside critical sections where a
 * test can pause, or kill, the process. */
#ifndef QK_TEST_HOOKS_H
#define QK_TEST_HOOKS_H

#include <stdint.h>

typedef enum {
    QK_TP_SLOT_UPDATED /* a slot's update is written but not committed; its lock is held */
} qk_test_point;

extern void (*qk__test_hook)(qk_test_point point, uint32_t service);

#endif
