"""fork(): the binding runs qk_atfork_prepare/parent/child around os.fork() for every live
tracker, so a child forked while other threads hammer a private tracker gets a usable,
consistent, independent copy; a tracker on a state file is shared with the child."""

import os
import threading

import pytest

from quotakeeper import Tracker

S = [{"name": "a", "windows": [("month", 10**9)]}, {"name": "b", "windows": [("month", 10**9)]}]


def _wait(pid, timeout=30):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the child hung: a lock held at fork() stayed locked in it")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads (3.12+)
def test_fork_with_a_private_tracker_while_threads_record():
    t = Tracker(S)
    stop = threading.Event()

    def hammer(s):
        while not stop.is_set():
            t.record(s)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in ("a", "b", "a")]
    for th in threads:
        th.start()
    try:
        for _ in range(10):
            pid = os.fork()
            if pid == 0:  # the child: its copy works and is consistent
                code = 1
                try:
                    snap = t.snapshot()
                    before = snap["a"].used
                    t.record("a", 5)
                    code = 0 if t.peek("a").used == before + 5 else 2
                finally:
                    os._exit(code)
            assert _wait(pid) == 0
    finally:
        stop.set()
        for th in threads:
            th.join()
    # Independent: the children's records never reached the parent.
    total = t.peek("a").used
    t.record("a")
    assert t.peek("a").used == total + 1
    t.close()


def test_fork_with_a_state_file_shares_the_counts(state_path):
    with Tracker(S, path=state_path) as t:
        t.record("a", 2)
        pid = os.fork()
        if pid == 0:
            try:
                t.record("a", 3)
            finally:
                os._exit(0)
        assert _wait(pid) == 0
        assert t.peek("a").used == 5
