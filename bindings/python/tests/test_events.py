"""Events reach a Python callable in the calling thread after the library's locks are released;
a raising callback is reported and counted, never lost, never crashing, never changing the
call's result."""

import logging
import threading

import pytest

from quotakeeper import EventKind, Level, Tracker

S = {"name": "s", "windows": [("month", 10)]}  # warn at 5, critical at 8, exhausted at 10


def test_each_crossing_is_one_event_with_its_fields():
    events = []
    with Tracker([S], on_event=events.append) as t:
        t.try_consume("s", 4)
        assert events == []
        t.try_consume("s", 1)  # 5: warn
        t.record("s", 3)  # 8: critical
        t.try_consume("s", 2)  # 10: exhausted
        t.refund("s", 10)  # back to ok
    assert [(e.from_level, e.to_level, e.used, e.seq) for e in events] == [
        (Level.OK, Level.WARN, 5, 1), (Level.WARN, Level.CRITICAL, 8, 2),
        (Level.CRITICAL, Level.EXHAUSTED, 10, 3), (Level.EXHAUSTED, Level.OK, 0, 4)]
    e = events[0]
    assert e.kind is EventKind.LEVEL and e.service == "s" and e.index == 0 and e.window == 0
    assert e.limit == 10 and e.window_start.tzinfo is not None
    assert e.window_start.day == 1 and e.window_start.hour == 0  # a month window


def test_the_callback_runs_in_the_calling_thread_with_the_locks_released():
    seen = []
    t = None

    def on_event(ev):
        # Calling back in needs the slot and snapshot locks: a callback run under them would
        # deadlock here (and abort under QK_LOCK_CHECKS in the Debug build).
        seen.append((threading.get_ident(), t.peek("s").used, len(t.snapshot())))
        t.record("other")

    t = Tracker([S, {"name": "other", "windows": [("month", 100)]}], on_event=on_event)
    worker = threading.Thread(target=lambda: t.record("s", 5))
    worker.start()
    worker.join()
    assert seen == [(worker.ident, 5, 2)]
    assert t.peek("other").used == 1
    t.close()


def test_a_raising_callback_is_reported_and_the_call_stands():
    reported = []

    def on_event(ev):
        raise RuntimeError(f"boom at {ev.used}")

    with Tracker([S], on_event=on_event,
                 on_event_error=lambda exc, ev: reported.append((exc, ev))) as t:
        u = t.try_consume("s", 5)  # succeeds although the callback raised
        assert u.windows[0].used == 5
        t.record("s", 5)
        assert t.peek("s").used == 10
        assert t.callback_errors == 2
        assert isinstance(t.last_callback_error, RuntimeError)
    assert [str(exc) for exc, _ in reported] == ["boom at 5", "boom at 10"]
    assert reported[0][1].to_level is Level.WARN


def test_without_a_reporter_the_error_is_logged_with_its_traceback(caplog):
    def on_event(ev):
        raise ValueError("bad callback")

    with caplog.at_level(logging.ERROR, logger="quotakeeper"):
        with Tracker([S], on_event=on_event) as t:
            t.record("s", 5)
            assert t.callback_errors == 1
    rec = [r for r in caplog.records if r.name == "quotakeeper"]
    assert len(rec) == 1 and rec[0].exc_info[0] is ValueError
    assert "on_event" in rec[0].getMessage()


def test_a_raising_reporter_falls_back_to_the_log(caplog):
    def bad_reporter(exc, ev):
        raise KeyError("reporter broke too")

    with caplog.at_level(logging.ERROR, logger="quotakeeper"):
        with Tracker([S], on_event=lambda ev: 1 / 0, on_event_error=bad_reporter) as t:
            t.record("s", 5)
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)


def test_a_raising_clock_is_reported_and_the_system_clock_used():
    reported = []
    with Tracker([S], clock=lambda: 1 / 0,
                 on_event_error=lambda exc, what: reported.append(exc)) as t:
        u = t.record("s")
        assert u.used == 1 and u.reset_at is not None
    assert reported and isinstance(reported[0], ZeroDivisionError)


def test_close_inside_a_callback_is_refused():
    reported = []
    t = None

    def on_event(ev):
        t.close()

    t = Tracker([S], on_event=on_event, on_event_error=lambda e, ev: reported.append(e))
    t.record("s", 5)
    assert isinstance(reported[0], RuntimeError) and not t.closed
    t.close()
    assert t.closed


def test_events_from_many_threads_are_each_delivered_once_in_seq_order():
    """Threads crossing levels on one service: seq is exactly 1..M, and each event starts
    from the level the previous one ended at (no crossing reported twice, none lost)."""
    events = []
    lock = threading.Lock()

    def on_event(ev):
        with lock:
            events.append(ev)

    with Tracker([{"name": "s", "windows": [("month", 40)]}], on_event=on_event) as t:
        def worker():
            for _ in range(20):
                t.record("s")
                t.refund("s")
                t.record("s")

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        final = t.peek("s")
    chain = sorted(events, key=lambda e: e.seq)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    for prev, ev in zip(chain, chain[1:]):
        assert ev.from_level == prev.to_level
    assert chain[-1].to_level == final.level == Level.EXHAUSTED
