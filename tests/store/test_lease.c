/* The lease model's merge (src/store/lease.c), white-box: what the store's answers do to a
 * lease when they come back in another order than their requests went out. The engine runs
 * syncs of one service from the caller and from the sync thread at once, each on its own
 * connection, so an answer to an older request can be merged after a newer one's. */
#include <criterion/criterion.h>

#include "store/lease.h"

/* The interleaving: the sync thread sends used=10 and the store answers U=110 (other hosts
 * 100); the host consumes 5 more and a consume short of lease sends used=15, answered U=115,
 * merged first; the thread's older answer is merged last. The lease must keep the newer view:
 * U=110 with this host's use since (0 unsynced: 15 acknowledged) would show the fleet 5 calls
 * short, this host's own 5 among them. */
Test(store_lease, an_older_answer_merged_late_keeps_the_newer_view)
{
    qk__lease l;
    qk__lease_start(&l, 0, QK_NEVER, 1000);
    l.used = 15;
    l.granted = 12;
    qk__lease_merge(&l, 20, 0, 140, 115, 1000, 2, 15, 0); /* the newer request's answer */
    cr_assert_eq(l.fleet_used, 115);
    cr_assert_eq(l.acked_used, 15);
    cr_assert_eq(qk__lease_unsynced(&l), 0);
    const uint64_t allowance = l.outage_allowance;
    l.outage_used = 3;
    qk__lease_merge(&l, 12, 0, 130, 110, 1000, 2, 10, 0); /* the older one's, late */
    cr_assert_eq(l.granted, 20, "a grant never shrinks on an answer");
    cr_assert_eq(l.acked_used, 15);
    cr_assert_eq(l.fleet_used, 115, "an older answer replaced the fleet's use: %llu",
                 (unsigned long long)l.fleet_used);
    cr_assert_eq(l.fleet_granted, 140);
    cr_assert_eq(l.outage_allowance, allowance);
    cr_assert_eq(l.outage_used, 3, "an older answer re-opened the outage allowance");
}

/* Two answers to requests with the same counters are both current: the later merged wins. */
Test(store_lease, answers_to_equal_requests_both_merge)
{
    qk__lease l;
    qk__lease_start(&l, 0, QK_NEVER, 1000);
    l.used = 10;
    qk__lease_merge(&l, 10, 0, 110, 100, 1000, 1, 10, 0);
    qk__lease_merge(&l, 10, 0, 120, 105, 1000, 1, 10, 0);
    cr_assert_eq(l.fleet_used, 105);
    cr_assert_eq(l.fleet_granted, 120);
}

/* A give-back is a total that only grows, like a grant: an answer that carries an older, smaller
 * one (a request sent before the give-back, answered after it) leaves this host's give-back as
 * it is, so the lease it gave up does not come back. Catches: a host that lowers its grant to
 * give back, then has it raised again by a late answer while the store hands it to others. */
Test(store_lease, a_give_back_survives_a_late_answer)
{
    qk__lease l;
    qk__lease_start(&l, 0, QK_NEVER, 1000);
    l.granted = 10;
    l.used = 4;
    l.released += qk__lease_left(&l); /* gives back the 6 it holds */
    cr_assert_eq(qk__lease_left(&l), 0);
    qk__lease_merge(&l, 10, 0, 10, 4, 1000, 1, 4, 0); /* an answer from before the give-back */
    cr_assert_eq(qk__lease_left(&l), 0, "the lease given back came back");
    cr_assert_eq(l.released, 6);
    qk__lease_merge(&l, 14, 6, 8, 4, 1000, 1, 4, 0); /* a later grant of 4 more */
    cr_assert_eq(qk__lease_left(&l), 4);
}
