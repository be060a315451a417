"""The spec's scenarios under the original test module's names, against quotakeeper.Tracker,
quotakeeper.compat and quotakeeper.QuotaTracker. ``--qk-repeat 100`` (ctest's
python_spec_x100) runs each one 100 consecutive times per implementation.

- test_different_services_can_be_updated_concurrently: 100 threads on A, 100 on B: 100 and 100.
- test_record_call_with_high_contention: 50 recorded, then 50 threads at once: 100.
- test_get_usage_summary_is_thread_safe: 4 writers (A then B, 40 rounds) and 2 readers: every
  read is one consistent cut, and the totals are exact.

test_racy_tracker_fails_every_scenario shows the same scenario code fails on the spec's bug.
"""

import pytest

import scenarios
from racy import RacyImpl

IMPLS = list(scenarios.IMPLS)


def _run(impl_name, scenario):
    impl = scenarios.IMPLS[impl_name]()
    try:
        scenario(impl)
    finally:
        impl.close()


@pytest.mark.spec
def test_different_services_can_be_updated_concurrently(impl, run):
    _run(impl, scenarios.different_services_concurrently)


test_different_services_can_be_updated_concurrently.impls = IMPLS


@pytest.mark.spec
def test_record_call_with_high_contention(impl, run):
    _run(impl, scenarios.high_contention_one_service)


test_record_call_with_high_contention.impls = IMPLS


@pytest.mark.spec
def test_get_usage_summary_is_thread_safe(impl, run):
    _run(impl, scenarios.consistent_reads_while_writing)


test_get_usage_summary_is_thread_safe.impls = IMPLS


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_racy_tracker_fails_every_scenario(name):
    """The suite can catch the lost update: every scenario fails against the read-copy-write
    tracker, by assertion (not by a crash or a hang), and the pairing really happened."""
    impl = RacyImpl()
    with pytest.raises(AssertionError):
        scenarios.SCENARIOS[name](impl)
    assert impl.rendezvous.pairs > 0


def test_racy_tracker_counts_right_alone():
    """Control: without concurrency the racy tracker counts correctly, so the failures above
    come from the race and not from a tracker that cannot count."""
    impl = RacyImpl(rendezvous=False)
    for _ in range(30):
        impl.record("a")
    impl.record("b")
    assert impl.read_pair() == (30, 1)


def test_pairs_with_quotakeeper_lose_nothing():
    """The same pairing pause, run between two quotakeeper records on different services,
    loses nothing: the pause does not manufacture failures by itself."""
    from racy import Rendezvous
    impl = scenarios.TrackerImpl()
    pause = Rendezvous()

    def rec(s):
        impl.record(s)
        pause()
        impl.record(s)

    scenarios.run_threads([lambda: rec("a")] * 20 + [lambda: rec("b")] * 20)
    assert impl.read_pair() == (40, 40)
    assert pause.pairs > 0
    impl.close()
