"""The spec's three scenarios, written once against a small interface so that the same code
runs against quotakeeper (three ways in) and against a deliberately racy tracker.

An implementation has two services ``a`` and ``b`` and offers ``record(service)``, ``used
(service)`` and ``read_pair()``, which must return the two counts as one consistent read.
Every worker thread starts on one barrier, and failures seen inside a thread are re-raised in
the caller after every thread has been joined.
"""

import threading
from datetime import datetime, timezone

import quotakeeper
from quotakeeper import Tracker
from quotakeeper.compat import QuotaTrackerManager


def run_threads(targets):
    """Starts one thread per target behind a shared barrier; re-raises the first failure."""
    barrier = threading.Barrier(len(targets))
    failures = []

    def wrap(fn):
        def body():
            try:
                barrier.wait()
                fn()
            except BaseException as exc:  # collected, re-raised in the caller
                failures.append(exc)
        return body

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


# -- the scenarios -------------------------------------------------------------------------

def different_services_concurrently(impl, per_service=100):
    """Spec scenario 1: 100 threads each record one call on A, 100 each one call on B, all
    at once: exactly 100 and 100. Catches a write-back of a stale copy of the whole state (the
    spec's bug: one service's update erases the other's)."""
    a, b = impl.a, impl.b
    run_threads([lambda: impl.record(a)] * per_service + [lambda: impl.record(b)] * per_service)
    assert (impl.used(a), impl.used(b)) == (per_service, per_service)


def high_contention_one_service(impl, preload=50, threads=50):
    """Spec scenario 2: a service with 50 calls already recorded gets 50 more from 50 threads
    at once: exactly 100, none lost. Catches two read-modify-writes of one count overlapping."""
    for _ in range(preload):
        impl.preload(impl.a)
    assert impl.used(impl.a) == preload
    run_threads([lambda: impl.record(impl.a)] * threads)
    assert impl.used(impl.a) == preload + threads
    assert impl.used(impl.b) == 0


def consistent_reads_while_writing(impl, writers=4, rounds=40, readers=2):
    """Spec user story 2: writers record on A then on B, readers read both meanwhile. Every
    read is one cut: A >= B and A - B <= writers (each writer has at most one A not yet
    followed by its B), and no reader sees a count go down; at the end A == B == writers x
    rounds. Catches reads that see half an update or a stale copy, and lost updates."""
    a, b = impl.a, impl.b
    done = threading.Event()
    finished = []
    lock = threading.Lock()

    def writer():
        for _ in range(rounds):
            impl.record(a)
            impl.record(b)
        with lock:
            finished.append(1)
            if len(finished) == writers:
                done.set()

    def reader():
        last = (0, 0)
        reads = 0
        while not done.is_set() or reads < 5:
            ca, cb = impl.read_pair()
            assert ca >= cb, f"read A={ca} < B={cb}: not one cut"
            assert ca - cb <= writers, f"read A={ca}, B={cb}: more than {writers} apart"
            assert ca >= last[0] and cb >= last[1], f"counts went down: {last} -> {(ca, cb)}"
            last = (ca, cb)
            reads += 1

    run_threads([writer] * writers + [reader] * readers)
    total = writers * rounds
    assert impl.read_pair() == (total, total)


SCENARIOS = {
    "different_services": different_services_concurrently,
    "high_contention": high_contention_one_service,
    "consistent_reads": consistent_reads_while_writing,
}


# -- implementations -------------------------------------------------------------------------

class TrackerImpl:
    """quotakeeper.Tracker on two services with a generous monthly window."""

    a, b = "a", "b"

    def __init__(self, path=None):
        self.t = Tracker([{"name": "a", "windows": [("month", 10**9)]},
                          {"name": "b", "windows": [("month", 10**9)]}], path=path)

    def record(self, s):
        self.t.record(s)

    preload = record

    def used(self, s):
        return self.t.peek(s).used

    def read_pair(self):
        snap = self.t.snapshot()
        return snap["a"].used, snap["b"].used

    def close(self):
        self.t.close()


class CompatImpl:
    """quotakeeper.compat.QuotaTrackerManager, as the original's callers use it: tiingo and
    finnhub, record_call, get_tracker() and get_usage_summary()."""

    a, b = "tiingo", "finnhub"

    def __init__(self):
        self.table = object()  # a fresh table: fresh counts
        self.m = QuotaTrackerManager(self.table)

    def record(self, s):
        self.m.record_call(s, 1)

    preload = record

    def used(self, s):
        return getattr(self.m.get_tracker(), s).used

    def read_pair(self):
        summary = self.m.get_usage_summary()
        return summary["tiingo"]["used"], summary["finnhub"]["used"]

    def close(self):
        pass


# Mid-minute on a fixed day, so finnhub's minute window never rolls over during a run.
FIXED_MS = int(datetime(2026, 3, 4, 12, 30, 20, tzinfo=timezone.utc).timestamp() * 1000)


class QuotaTrackerImpl:
    """quotakeeper.QuotaTracker (real calendar windows) on a fixed clock."""

    a, b = "tiingo", "finnhub"

    def __init__(self):
        self.q = quotakeeper.QuotaTracker(clock=lambda: FIXED_MS)

    def record(self, s):
        self.q.record_call(s)

    preload = record

    def used(self, s):
        return self.q.usage(s).used

    def read_pair(self):
        summary = self.q.get_usage_summary()
        return summary["tiingo"]["used"], summary["finnhub"]["used"]

    def close(self):
        self.q.close()


IMPLS = {"tracker": TrackerImpl, "compat": CompatImpl, "quota_tracker": QuotaTrackerImpl}
