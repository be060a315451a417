"""quotakeeper.compat behaves as original-system.md sections 4-6 document the original module,
keeps the counts the original lost, and adds try_call; quotakeeper.QuotaTracker is the same
for new code, on real calendar windows."""

import threading
from datetime import datetime, timezone

import pytest

import quotakeeper
from quotakeeper import InvalidArgumentError, Level, QuotaTracker
from quotakeeper import compat
from quotakeeper.compat import (QuotaTrackerManager, UnknownService, clear_quota_cache,
                                get_quota_cache_stats)


@pytest.fixture(autouse=True)
def fresh_cache():
    compat.configure()
    clear_quota_cache()
    yield
    compat.configure()


def test_limits_thresholds_and_can_call_at_the_boundaries():
    m = QuotaTrackerManager(object())
    t = m.get_tracker()
    assert (t.tiingo.limit, t.finnhub.limit, t.sendgrid.limit) == (500, 60, 100)
    assert all(getattr(t, s).period == "day" for s in ("tiingo", "finnhub", "sendgrid"))
    assert t.tiingo.remaining == 500 and t.total_api_calls_today == 0
    m.record_call("sendgrid", 49)
    assert not m.get_tracker().sendgrid.is_warning
    m.record_call("sendgrid")  # 50: warning
    s = m.get_tracker().sendgrid
    assert s.is_warning and not s.is_critical and s.percent_used == 50.0
    m.record_call("sendgrid", 29)  # 79: still allowed
    assert m.can_call("sendgrid")
    m.record_call("sendgrid")  # 80: critical, can_call says no (the original's rule)
    assert m.get_tracker().sendgrid.is_critical and not m.can_call("sendgrid")
    assert not m.get_tracker().can_call("sendgrid")
    m.record_call("sendgrid", 40)  # record_call never refuses: the calls were made
    s = m.get_tracker().sendgrid
    assert s.used == 120 and s.remaining == 0
    assert m.get_tracker().get_reserve_allocation("tiingo") == 50


def test_summary_shape():
    m = QuotaTrackerManager(object())
    m.record_call("tiingo", 10)
    m.record_call("finnhub", 5)
    m.record_call("sendgrid", 2)
    s = m.get_usage_summary()
    assert set(s) == {"tiingo", "finnhub", "sendgrid", "total_api_calls_today"}
    assert s["total_api_calls_today"] == 17
    assert s["tiingo"] == {"used": 10, "limit": 500, "remaining": 490, "percent_used": 2.0,
                           "is_warning": False, "is_critical": False}


def test_clearing_the_cache_keeps_every_count_and_resets_the_stats():
    m = QuotaTrackerManager(object())
    m.record_call("tiingo", 7)
    m.get_tracker()
    assert get_quota_cache_stats()["hits"] >= 1
    clear_quota_cache()
    assert get_quota_cache_stats() == {"hits": 0, "misses": 0, "syncs": 0, "atomic_writes": 0}
    assert m.get_tracker().tiingo.used == 7  # the original went back to 0 here
    assert get_quota_cache_stats()["misses"] == 1


def test_stats_count_every_lookup_once_under_threads():
    m = QuotaTrackerManager(object())

    def worker():
        for _ in range(25):
            m.get_tracker()
            m.record_call("finnhub")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = get_quota_cache_stats()
    assert st["hits"] + st["misses"] == 8 * 25 * 2
    assert st["misses"] == 1  # one table, looked up first once
    assert st["atomic_writes"] == 200
    assert m.get_tracker().finnhub.used == 200


def test_a_sync_when_a_service_becomes_critical_and_on_force_sync():
    m = QuotaTrackerManager(object())
    m.record_call("finnhub", 47)
    assert get_quota_cache_stats()["syncs"] == 0
    m.record_call("finnhub")  # 48 of 60 = 80 %: the original forced a sync here
    assert get_quota_cache_stats()["syncs"] == 1
    m.record_call("finnhub")
    assert get_quota_cache_stats()["syncs"] == 1
    assert m.force_sync() is True and get_quota_cache_stats()["syncs"] == 2
    assert m.is_reduced_rate() is False


def test_managers_on_one_table_share_counts_and_other_tables_do_not():
    table = object()
    QuotaTrackerManager(table).record_call("tiingo", 3)
    assert QuotaTrackerManager(table).get_tracker().tiingo.used == 3
    assert QuotaTrackerManager(object()).get_tracker().tiingo.used == 0
    QuotaTrackerManager().record_call("tiingo")  # no table at all works too
    assert QuotaTrackerManager().get_tracker().tiingo.used == 1


def test_configure_path_shares_counts_across_managers_and_restarts(state_path):
    compat.configure(path=state_path)
    QuotaTrackerManager(object()).record_call("sendgrid", 4)
    QuotaTrackerManager(object()).record_call("sendgrid", 1)
    compat.configure(path=state_path)  # closes and reopens: a restart
    assert QuotaTrackerManager().get_tracker().sendgrid.used == 5
    with quotakeeper.Tracker.open_readonly(state_path) as ro:
        assert ro.peek("sendgrid").used == 5


def test_try_call_grants_exactly_up_to_the_critical_count_under_threads():
    m = QuotaTrackerManager(object())
    granted = []
    lock = threading.Lock()

    def worker():
        mine = sum(1 for _ in range(20) if m.try_call("finnhub"))
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 48  # what can_call allows for 60: below 80 %
    assert m.get_tracker().finnhub.used == 48 and not m.can_call("finnhub")


def test_bad_input_is_refused_before_anything_is_counted():
    m = QuotaTrackerManager(object())
    with pytest.raises(UnknownService) as e:
        m.record_call("foo")
    assert isinstance(e.value, AttributeError)  # what the original raised
    with pytest.raises(AttributeError):
        m.can_call("foo")
    with pytest.raises(InvalidArgumentError):
        m.record_call("finnhub", 0)
    with pytest.raises(InvalidArgumentError):
        m.record_call("finnhub", -5)
    assert m.get_usage_summary()["total_api_calls_today"] == 0


def test_snapshots_are_values_not_the_live_object():
    m = QuotaTrackerManager(object())
    before = m.get_tracker()
    after = m.record_call("tiingo", 2)
    assert before.tiingo.used == 0 and after.tiingo.used == 2
    assert after.pk == "SYSTEM#QUOTA" and after.tracker_id == "QUOTA_TRACKER"
    with pytest.raises(AttributeError):
        before.nosuchservice


# -- quotakeeper.QuotaTracker --------------------------------------------------------------

MS = int(datetime(2026, 3, 4, 12, 30, 20, tzinfo=timezone.utc).timestamp() * 1000)


def test_quota_tracker_instances_are_independent_and_windows_are_real():
    now = [MS]
    q1 = QuotaTracker(clock=lambda: now[0])
    q2 = QuotaTracker()
    q1.record_call("finnhub", 47)
    assert q1.can_call("finnhub") and q2.finnhub.used == 0
    assert q1.try_call("finnhub") and not q1.try_call("finnhub")  # 48: critical
    assert q1.finnhub.period == "minute" and q1.tiingo.period == "month"
    assert q1.finnhub.reset_at == datetime(2026, 3, 4, 12, 31, tzinfo=timezone.utc)
    now[0] += 60_000  # the next minute: finnhub starts over, tiingo and sendgrid do not
    assert q1.finnhub.used == 0 and q1.can_call("finnhub")
    u = q1.record_call("sendgrid", 80)
    assert u.is_critical and u.level is Level.CRITICAL and not q1.try_call("sendgrid")
    s = q1.get_usage_summary()
    assert s["sendgrid"]["used"] == 80 and s["total_api_calls_today"] == 80
    q1.close()
    q2.close()


def test_quota_tracker_on_a_path_is_shared(state_path):
    with QuotaTracker(path=state_path) as a, QuotaTracker(path=state_path) as b:
        a.record_call("tiingo", 2)
        b.record_call("tiingo", 3)
        assert a.tiingo.used == b.tiingo.used == 5
