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

/* The gate (one compare on the fast path) must say exactly what the two checks it replaces say:
 * u + n < gate iff n calls fit and leave the lease not low, and u < gate <= u + n iff they make it
 * low. Every lease with small g, x <= g, r <= u and n, then the edges near 2^64. Catches: a gate
 * one too high (a consume past the lease or past the low mark on the fast path, which never wakes
 * the sync thread), one too low (a needless general pass), an eighth taken of the wrong total. */
static void check_gate(uint64_t g, uint64_t x, uint64_t u, uint64_t r, uint64_t n)
{
    qk__lease l;
    qk__lease_start(&l, 0, QK_NEVER, 1000);
    l.granted = g;
    l.released = x;
    l.used = u;
    l.refunded = r;
    const uint64_t gate = qk__lease_gate(&l);
    uint64_t after;
    const int overflow = __builtin_add_overflow(u, n, &after);
    qk__lease then = l;
    then.used = u + n;
    const int left_path = qk__lease_fits(&l, n) && !qk__lease_low(&then);
    if (!overflow) {
        cr_assert_eq(after < gate, left_path, "g %lu x %lu u %lu r %lu n %lu: gate %lu",
                     (unsigned long)g, (unsigned long)x, (unsigned long)u, (unsigned long)r,
                     (unsigned long)n, (unsigned long)gate);
        cr_assert_eq(u < gate && after >= gate, qk__lease_crosses_low(&l, n),
                     "g %lu x %lu u %lu r %lu n %lu: gate %lu crossing", (unsigned long)g,
                     (unsigned long)x, (unsigned long)u, (unsigned long)r, (unsigned long)n,
                     (unsigned long)gate);
    }
}

Test(store_lease, the_gate_says_what_fits_and_low_say)
{
    for (uint64_t g = 0; g <= 40; g++)
        for (uint64_t x = 0; x <= g; x++)
            for (uint64_t u = 0; u <= 45; u++)
                for (uint64_t r = 0; r <= u; r += 3)
                    for (uint64_t n = 0; n <= 12; n++)
                        check_gate(g, x, u, r, n);
    const uint64_t big[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX / 2, UINT64_MAX - 9};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        for (uint64_t d = 0; d < 20; d++) {
            check_gate(big[i], 0, big[i] - d, 0, d / 2);
            check_gate(big[i], d, d, d, 1);
            check_gate(big[i], big[i] - d, 0, 0, d);
        }
}
