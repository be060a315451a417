#!/usr/bin/env python3
"""One try_consume from Python, against the original's locked Python tracker doing the same
work, single-threaded and with 8 threads; prints the ratios measured in this one run.

    PYTHONPATH=<build>/bindings/python/lib /usr/bin/python3 bench_try_consume.py [OPS]

The original's side is a re-implementation, written here, of what original-system.md (6.1,
6.3, 7) describes: a module-wide RLock; a cache entry (stored at, tracker, last sync, jittered
TTL) read and written under it; a pydantic-free tracker whose record_call adds to ``used``,
recomputes ``remaining``, adds to the day's total and stamps ``updated_at``; the check
(``can_call``: room and below 80 %) and the record in one hold of the lock, so it does what
one try_consume does; after the lock, the "is a sync due" check. Its DynamoDB calls are left
out (they would only make it slower). quotakeeper's side is Tracker.try_consume on a private
tracker, GIL released during the C call; "raw cffi" is lib.qk_try_consume called directly,
to show what the Python layer costs.

Each figure is the median of 5 interleaved rounds; ratio = original time / quotakeeper time
(above 1: quotakeeper is faster). Timings only: nothing here is a test.
"""

import random
import statistics
import sys
import threading
import time
from datetime import datetime, timezone

import quotakeeper
from quotakeeper._native import ffi, lib

BIG = 10**15  # never refused: every call is a grant on both sides


# -- the original's locked tracker, pydantic-free ------------------------------------------

class _ServiceUsage:
    def __init__(self, service, limit):
        self.service, self.limit, self.used, self.remaining = service, limit, 0, limit
        self.warn_threshold, self.critical_threshold = 0.5, 0.8

    @property
    def percent_used(self):
        return self.used / self.limit * 100 if self.limit > 0 else 0

    @property
    def is_critical(self):
        return self.percent_used >= self.critical_threshold * 100


class _Tracker:
    def __init__(self):
        now = datetime.now(timezone.utc)
        self.updated_at = now
        self.total_api_calls_today = 0
        self.tiingo = _ServiceUsage("tiingo", BIG)
        self.finnhub = _ServiceUsage("finnhub", BIG)
        self.sendgrid = _ServiceUsage("sendgrid", BIG)

    def can_call(self, service):
        u = getattr(self, service)
        return u.remaining > 0 and not u.is_critical

    def record_call(self, service, count=1):
        u = getattr(self, service)
        u.used += count
        u.remaining = max(0, u.limit - u.used)
        self.total_api_calls_today += count
        self.updated_at = datetime.now(timezone.utc)


class LockedPythonTracker:
    """The original manager's record path with its RLock, check included."""

    TTL, SYNC_INTERVAL = 10.0, 60.0

    def __init__(self):
        self._lock = threading.RLock()
        self._cache = None
        self.stats = {"hits": 0, "misses": 0, "syncs": 0}

    def _get_cached(self):
        with self._lock:
            if self._cache is not None:
                stored_at, tracker, _, ttl = self._cache
                if time.time() - stored_at < ttl:
                    self.stats["hits"] += 1
                    return tracker
            self.stats["misses"] += 1
            return None

    def _set_cached(self, tracker, synced=False):
        with self._lock:
            now = time.time()
            last = now if synced or self._cache is None else self._cache[2]
            self._cache = (now, tracker, last, self.TTL * random.uniform(0.9, 1.1))

    def _needs_sync(self):
        with self._lock:
            return self._cache is not None and time.time() - self._cache[2] >= self.SYNC_INTERVAL

    def get_tracker(self):
        tracker = self._get_cached()
        if tracker is None:
            tracker = _Tracker()
            self._set_cached(tracker, synced=True)
        return tracker

    def try_call(self, service):
        with self._lock:
            tracker = self.get_tracker()
            if not tracker.can_call(service):
                return False
            was_critical = getattr(tracker, service).is_critical
            tracker.record_call(service, 1)
            self._set_cached(tracker)
            now_critical = getattr(tracker, service).is_critical
        if now_critical and not was_critical:
            pass  # the original warned and forced a sync here; never reached with BIG limits
        elif self._needs_sync():
            pass
        return True


# -- the measurements ------------------------------------------------------------------------

def run(threads, ops, make_op):
    """Wall time for `threads` threads doing ops/threads operations each, started together."""
    per = ops // threads
    barrier = threading.Barrier(threads + 1)
    ends = []

    def body():
        op = make_op()
        barrier.wait()
        for _ in range(per):
            op()
        ends.append(time.perf_counter())

    ts = [threading.Thread(target=body) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in ts:
        t.join()
    return max(ends) - start


def main():
    ops = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    original = LockedPythonTracker()
    tracker = quotakeeper.Tracker([{"name": s, "windows": [("day", BIG)]}
                                   for s in ("tiingo", "finnhub", "sendgrid")])
    raw_t = tracker._t
    services = ("tiingo", "finnhub", "sendgrid")

    def original_op():
        s = random.choice(services)
        return lambda: original.try_call(s)

    def qk_op():
        s = random.choice(services)
        return lambda: tracker.try_consume(s)

    def raw_op():
        idx = random.randrange(3)
        out = ffi.new("qk_usage *")
        return lambda: lib.qk_try_consume(raw_t, idx, 1, 0, out)

    sides = {"original (RLock, Python)": original_op, "quotakeeper Tracker.try_consume":
             qk_op, "raw cffi qk_try_consume": raw_op}
    results = {}
    for threads in (1, 8):
        times = {k: [] for k in sides}
        for _ in range(5):
            for name, make in sides.items():
                times[name].append(run(threads, ops, make))
        results[threads] = {k: statistics.median(v) for k, v in times.items()}

    print(f"quotakeeper {quotakeeper.version_string()}, Python {sys.version.split()[0]}, "
          f"{ops} operations per figure, median of 5")
    for threads, res in results.items():
        base = res["original (RLock, Python)"]
        print(f"\n{threads} thread{'s' if threads > 1 else ''}:")
        for name, secs in res.items():
            print(f"  {name:34s} {secs / ops * 1e9:8.0f} ns/op   ratio {base / secs:5.2f}")
    tracker.close()


if __name__ == "__main__":
    main()
