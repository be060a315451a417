/* Test-only (QK_TEST_HOOKS builds, never installed): points inside critical sections where a
 * test can pause, or kill, the process. */
#ifndef QK_TEST_HOOKS_H
#define QK_TEST_HOOKS_H

#include <stdint.h>

typedef enum {
    QK_TP_SLOT_UPDATED, /* a slot's update is written but not committed; its lock is held */
    /* a service's unused leases are given back in the store area (qk_store_sync) and their
     * gates not yet opened again; the slot lock is held */
    QK_TP_STORE_GIVEN_BACK,
    /* creation: the header's checksum is stored, the ready magic not yet (src/region.c) */
    QK_TP_HEADER_CHECKSUMMED,
    /* a window's start is moved forward, its end not yet; the slot lock is held (window.h) */
    QK_TP_WINDOW_HALF_ROLLED,
    /* a layout-2 file's upgrade: the layout-3 checksum is stored, the version not yet */
    QK_TP_LAYOUT_HALF_UPGRADED
} qk_test_point;

/* The service argument of a point that is not about one service. */
#define QK_TP_NO_SERVICE UINT32_MAX

extern void (*qk__test_hook)(qk_test_point point, uint32_t service);

/* A duration the library fixes (ms), which a QK_TEST_HOOKS build takes from the environment
 * variable env when it holds a positive number, so tests see minutes pass in seconds. */
#ifdef QK_TEST_HOOKS
#include <stdlib.h>
static inline int64_t qk__hooked_ms(const char *env, int64_t fixed)
{
    const char *v = getenv(env);
    return v != NULL && atoll(v) > 0 ? atoll(v) : fixed;
}
#else
#define qk__hooked_ms(env, fixed) ((void)(env), (int64_t)(fixed))
#endif

#ifdef QK_TEST_HOOKS
#define TEST_POINT(point, service)                                                                 \
    do {                                                                                           \
        if (qk__test_hook != NULL)                                                                 \
            qk__test_hook((point), (service));                                                     \
    } while (0)
#else
#define TEST_POINT(point, service) ((void)0)
#endif

#endif
