"""A deliberately racy pure-Python tracker with the original's bug shape, to show the
scenarios catch it.

Each record takes a copy of the whole shared state under the lock, changes the copy with the
lock released, and stores the copy back under the lock: a record by another thread between
the copy and the store is erased by it, whichever service it was for. This is the read-copy-
write the spec describes (written here from that description, not from the original code).

Left to the scheduler the loss is rare (the original test passed for months). ``Rendezvous``
makes it certain: it holds a record between its copy and its store until a second record
reaches the same point, or a short timeout passes, so the two stores both carry copies taken
before either happened. The same trick the C mutation check plays with its handshake.
"""

import threading
import time


class Rendezvous:
    """Pairs up threads at one point: the first waits (at most ``timeout`` seconds) for a
    second; the second releases it. Waiting stops for good after ``budget`` seconds in all,
    so a single-threaded phase costs little."""

    def __init__(self, timeout=0.05, budget=1.0):
        self.timeout = timeout
        self.budget = budget
        self._cond = threading.Condition()
        self._waiting = False
        self._generation = 0
        self._spent = 0.0
        self.pairs = 0

    def __call__(self):
        with self._cond:
            if self._waiting:  # a partner is parked: release it and go on
                self._waiting = False
                self._generation += 1
                self.pairs += 1
                self._cond.notify_all()
                return
            if self._spent >= self.budget:
                return
            self._waiting = True
            gen = self._generation
            start = time.monotonic()
            self._cond.wait_for(lambda: self._generation != gen, self.timeout)
            if self._generation == gen:  # nobody came
                self._waiting = False
            self._spent += time.monotonic() - start


class RacyTracker:
    """Counts per service in one shared dict, updated by read-copy-write."""

    def __init__(self, services, pause=None):
        self._lock = threading.Lock()
        self._state = {s: 0 for s in services}
        self.pause = pause  # called between the copy and the store

    def record(self, service, n=1, pause=True):
        with self._lock:
            copy = dict(self._state)  # a private copy of everything
        copy[service] += n
        if pause and self.pause is not None:
            self.pause()
        with self._lock:
            self._state = copy  # stores every service, stale ones included

    def read(self):
        with self._lock:
            return dict(self._state)


class RacyImpl:
    """The scenarios' interface over RacyTracker."""

    a, b = "a", "b"

    def __init__(self, rendezvous=True):
        self.rendezvous = Rendezvous() if rendezvous else None
        self.t = RacyTracker(["a", "b"], self.rendezvous)

    def record(self, s):
        self.t.record(s)

    def preload(self, s):  # calls made before the scenario's threads start: no pairing
        self.t.record(s, pause=False)

    def used(self, s):
        return self.t.read()[s]

    def read_pair(self):
        state = self.t.read()
        return state["a"], state["b"]

    def close(self):
        pass
