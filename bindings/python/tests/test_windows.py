"""Window shapes (options version 4): every N periods, SECOND and WEEK, offsets; the library's
own refusals come back as InvalidArgumentError with its message, and the usage bounds match
the shape (docs/windows.md)."""

from datetime import datetime, timezone

import pytest

from quotakeeper import InvalidArgumentError, Period, QuotaExceeded, Tracker, Window

# 2026-03-04 (a Wednesday) 12:37:20.250 UTC
MS = int(datetime(2026, 3, 4, 12, 37, 20, tzinfo=timezone.utc).timestamp() * 1000) + 250


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def test_a_15_minute_window_counts_and_bounds_a_quarter_hour():
    with Tracker([{"name": "q", "windows": [Window(Period.MINUTE, 900, every=15)]}],
                 clock=lambda: MS) as t:
        u = t.try_consume("q", 5)
        w = u.windows[0]
        assert (w.used, w.limit, w.remaining) == (5, 900, 895)
        assert w.window_start == utc(2026, 3, 4, 12, 30)
        assert w.reset_at == utc(2026, 3, 4, 12, 45)
        assert t.window("q", 0) == Window(Period.MINUTE, 900, 15, 0, False, None)
        assert t.window("q", 0).length_ms == 900_000


def test_a_second_window_and_a_week_from_monday():
    with Tracker([{"name": "s", "windows": [(Period.SECOND, 30), ("week", 5000)]}],
                 clock=lambda: MS) as t:
        u = t.record("s", 1)
        sec, week = u.windows
        assert sec.period is Period.SECOND and week.period is Period.WEEK
        assert sec.window_start == utc(2026, 3, 4, 12, 37, 20)
        assert sec.reset_at == utc(2026, 3, 4, 12, 37, 21)
        assert week.window_start == utc(2026, 3, 2)  # the Monday
        assert week.reset_at == utc(2026, 3, 9)
        assert t.window("s", 1) == Window(Period.WEEK, 5000)


def test_an_offset_day_resets_at_07_utc():
    day = Window(Period.DAY, 1000, offset_ms=7 * 3_600_000)
    with Tracker([{"name": "d", "windows": [day]}], clock=lambda: MS) as t:
        w = t.peek("d").windows[0]
        assert w.window_start == utc(2026, 3, 4, 7)
        assert w.reset_at == utc(2026, 3, 5, 7)
        assert t.window("d", 0) == day


@pytest.mark.parametrize("window, message", [
    (Window(Period.MONTH, 10, rolling=True), "a rolling window of QK_MONTH"),
    (Window(Period.DAY, 10, tz="Mars/Olympus"), 'unknown time zone "Mars/Olympus"'),
    (Window(Period.HOUR, 10, offset_ms=3_600_000), "is not below the window's length"),
    (Window(Period.DAY, 10, offset_ms=1500), "is not a whole number of seconds"),
    (Window(Period.DAY, 10, offset_ms=-1000), "is negative"),
    (Window(Period.FOREVER, 10, every=2), "every 2 on QK_FOREVER"),
    (Window(Period.MINUTE, 10, tz="UTC"), "tz on QK_MINUTE"),
])
def test_the_librarys_refusals_keep_its_message(window, message):
    with pytest.raises(InvalidArgumentError) as err:
        Tracker([{"name": "bad", "windows": [window]}])
    assert message in str(err.value)
    assert "service 'bad': window 0" in str(err.value)


def test_a_rolling_second_never_admits_more_than_its_limit_in_any_second():
    now = [MS]
    roll = Window(Period.SECOND, 30, rolling=True)
    with Tracker([{"name": "f", "windows": [roll]}], clock=lambda: now[0]) as t:
        assert t.window("f", 0) == roll
        for _ in range(30):
            t.try_consume("f")
        # A fixed second would reset at the next whole second, 750 ms on; the rolling one
        # frees the calls a second after they were taken (within a bucket, 20 ms).
        now[0] += 800
        with pytest.raises(QuotaExceeded) as err:
            t.try_consume("f")
        assert err.value.usage.tripped == 0
        now[0] += 220
        assert t.try_consume("f").windows[0].used == 1


def test_a_pacific_day_lasts_23_hours_when_the_clocks_spring_forward():
    day = Window(Period.DAY, 10, tz="America/Los_Angeles")
    at = int(datetime(2026, 3, 8, 12, tzinfo=timezone.utc).timestamp() * 1000)
    with Tracker([{"name": "g", "windows": [day]}], clock=lambda: at) as t:
        w = t.peek("g").windows[0]
        assert w.window_start == utc(2026, 3, 8, 8)
        assert w.reset_at == utc(2026, 3, 9, 7)
        assert t.window("g", 0) == day


def test_window_get_out_of_range():
    with Tracker([{"name": "x", "windows": [("minute", 1)]}]) as t:
        with pytest.raises(InvalidArgumentError):
            t.window("x", 1)
        with pytest.raises(InvalidArgumentError, match="out of range"):
            t.window("x", -1)


def test_a_rolling_window_in_a_state_file_survives_close_and_reopen(state_path):
    """The calls a rolling second took are kept in the file's ring set (layout 3), so a tracker
    that reopens the file 800 ms later, past the fixed second's end, still refuses the 31st and
    grants once the calls slide out, a second and a bucket (20 ms) after they were taken."""
    now = [MS]
    roll = Window(Period.SECOND, 30, rolling=True)
    svc = [{"name": "f", "windows": [roll, ("minute", 100)]}]
    with Tracker(svc, path=state_path, clock=lambda: now[0]) as t:
        for _ in range(30):
            t.try_consume("f")
    now[0] += 800
    with Tracker(path=state_path, clock=lambda: now[0]) as t:
        assert t.window("f", 0) == roll
        assert [w.used for w in t.peek("f").windows] == [30, 30]
        with pytest.raises(QuotaExceeded) as err:
            t.try_consume("f")
        assert err.value.usage.tripped == 0
    now[0] += 200  # MS + 1000: the first bucket ([MS - 10, MS + 10)) has not left yet
    with Tracker(svc, path=state_path, clock=lambda: now[0]) as t:
        with pytest.raises(QuotaExceeded):
            t.try_consume("f")
        now[0] += 20
        assert [w.used for w in t.try_consume("f").windows] == [1, 31]
