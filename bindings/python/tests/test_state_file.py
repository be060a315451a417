"""A state file shared by Python and C processes: counts add up exactly, consumes never grant
past the limit across processes, and counts survive the processes."""

import os
import subprocess
import sys

import pytest

from quotakeeper import Tracker

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_C = os.environ.get("QK_PY_PEER")


def _python_peer(*args):
    env = dict(os.environ)
    return [sys.executable, os.path.join(HERE, "peer.py"), *args], env


def _run_together(commands):
    """Starts every process, waits until each has opened the file and said "ready", then
    releases them all at once; returns their stdout lines after "ready"."""
    procs = []
    try:
        for cmd, env in commands:
            procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        for p in procs:
            line = p.stdout.readline()
            assert line == "ready\n", f"{p.args}: {line!r} {p.stderr.read()}"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, f"{p.args} exited {p.returncode}: {err}"
            outs.append(out.split())
        return outs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _peer_c(*args):
    if not PEER_C:
        pytest.skip("QK_PY_PEER (the C peer built by CMake) is not set")
    return [PEER_C, *args], dict(os.environ)


def test_two_python_processes_and_a_c_process_sum_exactly(state_path):
    with Tracker([{"name": "a", "windows": [("month", 10**9), ("forever", 10**12)]},
                  {"name": "b", "windows": [("month", 10**9)]}], path=state_path) as t:
        t.record("a", 7)  # this process too
        threads, n = 4, 500
        _run_together([_python_peer("record", state_path, str(threads), str(n), "a", "b"),
                       _python_peer("record", state_path, str(threads), str(n), "a", "b"),
                       _peer_c("record", state_path, str(threads), str(n), "a", "b")])
        per_process = threads * n
        snap = t.snapshot()
        assert snap["a"].windows[0].used == 7 + 3 * per_process
        assert snap["a"].windows[1].used == 7 + 3 * per_process
        assert snap["b"].used == 3 * per_process


def test_consume_across_processes_never_grants_past_the_limit(state_path):
    limit = 1000
    with Tracker([{"name": "s", "windows": [("month", limit)]}], path=state_path) as t:
        # 3 processes x 4 threads x 200 attempts = 2400 attempts for 1000 calls.
        outs = _run_together([_python_peer("consume", state_path, "4", "200", "s"),
                              _python_peer("consume", state_path, "4", "200", "s"),
                              _peer_c("consume", state_path, "4", "200", "s")])
        granted = sum(int(o[-1]) for o in outs)
        assert granted == limit
        assert t.peek("s").used == limit


def test_counts_survive_the_processes(state_path):
    svc = [{"name": "s", "windows": [("month", 100)]}]
    with Tracker(svc, path=state_path) as t:
        t.record("s", 3)
    _run_together([_python_peer("record", state_path, "2", "5", "s")])
    with Tracker(svc, path=state_path) as t:
        assert t.peek("s").used == 13
    with Tracker.open_readonly(state_path) as ro:
        assert ro.peek("s").used == 13
        assert ro.readonly and ro.path == state_path


def test_trackers_on_one_file_in_one_process_share_counts(state_path):
    svc = [{"name": "s", "windows": [("day", 100)]}]
    with Tracker(svc, path=state_path) as t1, Tracker(path=state_path) as t2:
        t1.record("s", 2)
        t2.record("s", 3)
        assert t1.peek("s").used == t2.peek("s").used == 5
        assert t2.find("s") == 0
