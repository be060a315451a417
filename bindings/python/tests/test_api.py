"""The Tracker's surface: definitions, Usage values, services by name and index, every
operation, the context manager and close()."""

import threading
import time
from datetime import datetime, timezone

import pytest

import quotakeeper
from quotakeeper import (Level, Period, ServiceDef, TrackerClosedError, Tracker, Usage, Window)

MS = int(datetime(2026, 3, 4, 12, 30, 20, tzinfo=timezone.utc).timestamp() * 1000)


def test_definitions_from_dataclasses_mappings_and_period_names():
    d = ServiceDef("x", [Window(Period.MINUTE, 60), ("day", 1000), (Period.HOUR, 100)])
    assert d.windows == (Window(Period.MINUTE, 60), Window(Period.DAY, 1000),
                         Window(Period.HOUR, 100))
    with Tracker([d, {"name": "y", "windows": [("forever", 5)], "reserve": 1}]) as t:
        assert t.services == ("x", "y") and len(t) == 2
        assert t.find("y") == 1 and "x" in t and 3 not in t


def test_usage_values_and_aware_utc_datetimes():
    with Tracker([{"name": "x", "windows": [("minute", 60), ("day", 1000)]},
                  {"name": "f", "windows": [("forever", 5)]}], clock=lambda: MS) as t:
        u = t.try_consume("x", 10)
        assert isinstance(u, Usage) and u.service == "x" and u.index == 0
        assert u.level is Level.OK and u.remaining == 50 and u.tripped is None
        assert u.used == 10 and u.limit == 60
        assert u.reset_at == datetime(2026, 3, 4, 12, 31, tzinfo=timezone.utc)
        assert u.reset_at.tzinfo is timezone.utc
        w1 = u.windows[1]
        assert w1.period is Period.DAY and (w1.used, w1.remaining) == (10, 990)
        assert w1.window_start == datetime(2026, 3, 4, tzinfo=timezone.utc)
        assert w1.reset_at == datetime(2026, 3, 5, tzinfo=timezone.utc)
        f = t.peek("f")
        assert f.reset_at is None and f.windows[0].reset_at is None  # never resets
        assert t.peek(0) == t.peek("x")  # by index or by name


def test_every_operation():
    with Tracker([{"name": "s", "windows": [("day", 100), ("month", 1000)], "reserve": 10}],
                 capacity=3) as t:
        t.record("s", 5)
        t.try_consume("s", 5)
        t.refund("s", 3)
        assert t.peek("s").used == 7
        t.set_used("s", 1, 500)
        assert [w.used for w in t.peek("s").windows] == [7, 500]
        t.reset("s")
        assert [w.used for w in t.peek("s").windows] == [0, 0]
        i = t.add_service({"name": "n", "windows": [("hour", 4)]})
        assert i == 1 and t.services == ("s", "n")
        t.record("n", 2)
        t.record("s", 1)
        snap = t.snapshot()
        assert list(snap) == ["s", "n"] and snap["n"].used == 2
        t.reset_all()
        assert all(u.used == 0 for u in t.snapshot().values())
        with pytest.raises(quotakeeper.QuotaExceeded):
            t.try_consume("s", 91)  # the last 10 are the reserve
        assert t.try_consume("s", 100, priority=True).remaining == 0
        t.flush()  # a no-op in memory


def test_snapshot_grows_with_services_added_meanwhile():
    with Tracker([{"name": "s0", "windows": [("day", 1)]}], capacity=64) as t:
        for i in range(1, 40):
            t.add_service({"name": f"s{i}", "windows": [("day", 1)]})
        assert len(t.snapshot()) == 40


def test_the_context_manager_closes():
    with Tracker([{"name": "s", "windows": [("day", 1)]}]) as t:
        pass
    assert t.closed
    with pytest.raises(TrackerClosedError):
        t.peek("s")
    assert "closed" in repr(t)


def test_close_waits_for_a_call_in_flight():
    """close() from one thread while another is inside a call (held in its clock callback)
    waits for that call to finish before freeing the tracker."""
    inside = threading.Event()
    release = threading.Event()

    def clock():
        if threading.current_thread().name == "slow":
            inside.set()
            release.wait(10)
        return MS

    t = Tracker([{"name": "s", "windows": [("day", 10)]}], clock=clock)
    result = []
    slow = threading.Thread(target=lambda: result.append(t.record("s")), name="slow")
    slow.start()
    assert inside.wait(10)
    closer = threading.Thread(target=t.close)
    closer.start()
    time.sleep(0.05)
    assert closer.is_alive() and not result  # close is waiting for the record
    release.set()
    slow.join(10)
    closer.join(10)
    assert result[0].used == 1 and t.closed


def test_version():
    assert quotakeeper.version_string() == "0.2.0" or quotakeeper.version() >= 0x000200
    assert quotakeeper.__version__
