/* What a store may and may not make a host believe (issue 26, items 2 and 5):
 * - its answer never lowers this host's own acknowledged use or holding (white-box, the lease);
 * - its clock is believed only within QK__STORE_SKEW_MAX_MS of the host's (white-box);
 * - a password holding '/', '?', '#' and '@' reaches no message, against a real redis-server
 *   with requirepass set to it, and after qk_tracker_free no block the library freed holds it:
 *   this binary links with -Wl,--wrap=free, so every free() of the library's (it is linked
 *   statically into this binary) scans the block first. hiredis's own frees go to libc
 *   directly and are not seen: the AUTH command never reaches its buffers (redis.c). */
#include <malloc.h>

#include "store/lease.h"
#include "store_test.h"

TestSuite(store_trust, .fini = qkt_servers_stop_all, .timeout = 60);

/* Catches: the fleet's use taken from the answer alone (a store answering U = 0). */
Test(store_trust, an_answer_never_lowers_own_use)
{
    qk__lease l;
    qk__lease_start(&l, 0, 60000, 100);
    l.granted = 40;
    l.used = 30;
    cr_assert_eq(qk__lease_merge(&l, 40, 0, 0, 0, 100, 1, 30, 0), 1);
    cr_assert_eq(l.fleet_used, 30, "the store said 0; this host used 30: %llu",
                 (unsigned long long)l.fleet_used);
    cr_assert_eq(l.fleet_granted, 40, "this host holds 40: %llu",
                 (unsigned long long)l.fleet_granted);
    cr_assert_eq(qk__lease_unsynced(&l), 0);
    /* A larger answer (other hosts' use) is taken as it is. */
    cr_assert_eq(qk__lease_merge(&l, 40, 0, 70, 55, 100, 2, 30, 0), 1);
    cr_assert_eq(l.fleet_used, 55);
    cr_assert_eq(l.fleet_granted, 70);
}

/* Catches: an offset of years taken from a store's TIME or Date header. */
Test(store_trust, clock_believed_within_bound)
{
    cr_assert_eq(qk__store_offset_believed(0, 2000), 2000, "a 2 s skew is followed");
    cr_assert_eq(qk__store_offset_believed(0, -QK__STORE_SKEW_MAX_MS), -QK__STORE_SKEW_MAX_MS);
    const int64_t century = INT64_C(100) * 365 * 86400000;
    cr_assert_eq(qk__store_offset_believed(0, century), 0, "100 years ahead is not believed");
    cr_assert_eq(qk__store_offset_believed(1500, century), 1500, "the last believed one stays");
    cr_assert_eq(qk__store_offset_believed(1500, -century), 1500);
    cr_assert_eq(qk__store_offset_believed(0, INT64_C(253402300799000)), 0, "the year 9999");
}

#define SECRET "Pw/se?cr#et@ret"

static _Atomic unsigned free_hits;
void __real_free(void *p);
void __wrap_free(void *p);
void __wrap_free(void *p)
{
    if (p != NULL) {
        const size_t n = malloc_usable_size(p);
        if (memmem(p, n, SECRET, sizeof SECRET - 1) != NULL || memmem(p, n, "cr#et@ret", 9) != NULL)
            free_hits++;
    }
    __real_free(p);
}

Test(store_trust, password_in_no_message_and_no_freed_block)
{
    qkt_server srv;
    start_redis(&srv, NULL);
    rcmd_ok(srv.port, "CONFIG SET requirepass %s", SECRET);
    static const qk_service_def d = {.name = "pw", .windows = {{QK_MINUTE, 100}}};
    char url[128];

    /* The wrong password: refused, and the message shows neither. */
    snprintf(url, sizeof url, "redis://:Wr/ong?pa#ss@wd@127.0.0.1:%d", srv.port);
    qk_options o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    qk_tracker *t = store_tracker(&o);
    cr_assert_neq(qk_store_sync(t), QK_OK, "a wrong password was accepted");
    cr_assert_null(strstr(qk_errmsg(), "ong"), "'%s'", qk_errmsg());
    cr_assert_null(strstr(qk_errmsg(), "wd"), "'%s'", qk_errmsg());
    qk_tracker_free(t);

    /* A bad port after the same kind of password: the message hides it. */
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:99999", SECRET);
    qk_tracker *bad = NULL;
    o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    cr_assert_eq(qk_tracker_new(&bad, &o), QK_EINVAL);
    cr_assert_null(strstr(qk_errmsg(), "cr#et"), "'%s'", qk_errmsg());
    cr_assert_not_null(strstr(qk_errmsg(), ":***@"), "'%s'", qk_errmsg());

    /* The right one: it works, and once freed no block of the library's holds it. */
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", SECRET, srv.port);
    o = store_options(&d, 1, url, CALM_TIMEOUT_MS, NULL);
    free_hits = 0;
    t = store_tracker(&o);
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    for (int i = 0; i < 30; i++)
        cr_assert_eq(qk_try_consume(t, 0, 1, 0, NULL), QK_OK, "%s", qk_errmsg());
    cr_assert_eq(qk_store_sync(t), QK_OK, "%s", qk_errmsg());
    qk_tracker_free(t);
    cr_assert_eq(free_hits, 0, "%u freed blocks held the password", (unsigned)free_hits);
}
