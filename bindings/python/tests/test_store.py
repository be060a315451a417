"""The shared store from Python, against real servers this test starts (tests/servers.py):
open a tracker with a store URL, consume, sync, read the status (checked against what Redis
itself holds), init; a store that is down raises StoreUnavailableError within the timeout;
no password reaches a message, a repr or the status. DynamoDB through dynalite likewise."""

import re
import time

import pytest

import quotakeeper
from conftest import REDIS_PASSWORD
from quotakeeper import (EventKind, InvalidArgumentError, Outage, Period, StoreError,
                         StoreStatus, StoreUnavailableError, Tracker, store_init)
from servers import redis_command

CALM_MS = 5000  # a timeout no healthy loopback call comes near
SHORT_MS = 300  # the timeout of the calls that must give up
SLACK_S = 0.5  # "within the timeout": timeout + 500 ms


def services(outage="safe"):
    return [{"name": "api", "windows": [("minute", 100), ("day", 1000)], "outage": outage}]


def redis_url(srv, password=None):
    auth = f":{password}@" if password is not None else ""
    return f"redis://{auth}127.0.0.1:{srv.port}"


def key_of(service, period_letter, window):
    return f"qk:{{{service}}}:{period_letter}:{window.window_start_ms}"


def test_open_consume_sync_status_match_the_store(redis_server):
    with Tracker(services(), store=redis_url(redis_server), store_timeout_ms=CALM_MS) as a, \
            Tracker(services(), store=redis_url(redis_server), store_timeout_ms=CALM_MS) as b:
        assert a.store == redis_url(redis_server)
        assert a.try_consume("api", 3).used == 3
        b.try_consume("api", 2)
        b.store_sync()
        a.store_sync()
        st = a.store_status()
        assert isinstance(st, StoreStatus)
        assert st.degraded is False and st.failures == 0 and st.last_error is None
        assert st.syncs >= 1 and st.consecutive_failures == 0 and st.consecutive_successes >= 1
        assert re.fullmatch(r"[0-9a-f]{32}", st.host_id)
        assert st.host_id != b.store_status().host_id  # two private trackers: two hosts
        assert list(st.services) == ["api"]
        api = st.services["api"]
        assert api.service == "api" and api.index == 0
        assert [w.period for w in api.windows] == [Period.MINUTE, Period.DAY]
        for w, letter, limit in zip(api.windows, "md", (100, 1000)):
            # A sync gives back the unused lease and leaves nothing unacknowledged.
            assert (w.held, w.unsynced, w.overdraft) == (0, 0, 0)
            assert (w.fleet_used, w.fleet_limit) == (5, limit)  # both hosts' use
            # The store itself holds what the status says: L, U and this host's u; G (what
            # the hosts were granted, used or not) is exactly the use: no lease is held.
            fields = redis_command(redis_server.port, "HMGET", key_of("api", letter, w),
                                   "L", "G", "U", f"u:{st.host_id}")
            assert fields == [str(limit), "5", "5", "3"]
        assert a.peek("api").used == 5  # the tracker shows the fleet


def test_lease_max_reaches_the_library(redis_server):
    """lease_max=1: the host is granted one call at a time, so the store's G (granted, used
    or not) is the calls made; an adaptive lease takes hundreds at once (half of what is
    left)."""
    with Tracker([{"name": "one", "windows": [("day", 1000)], "lease_max": 1}],
                 store=redis_url(redis_server), store_timeout_ms=CALM_MS) as t:
        for _ in range(3):
            t.try_consume("one")
        # Before a sync gives anything back: each consume was granted one call (a grant in
        # flight may add one more).
        w = t.store_status().services["one"].windows[0]
        g = redis_command(redis_server.port, "HGET", key_of("one", "d", w), "G")
        assert 3 <= int(g) <= 4, g


def test_init_checks_the_server_and_makes_nothing_on_redis(redis_server):
    assert store_init(redis_url(redis_server), CALM_MS) is False
    assert redis_command(redis_server.port, "DBSIZE") == 0


def test_bad_input_is_invalid_argument_and_changes_nothing(redis_server):
    url = redis_url(redis_server)
    for bad in ("redis://", "nope://127.0.0.1:1", "redis://127.0.0.1:99999"):
        with pytest.raises(InvalidArgumentError):
            store_init(bad, CALM_MS)
        with pytest.raises(InvalidArgumentError):
            Tracker(services(), store=bad)
    with pytest.raises(InvalidArgumentError, match="timeout"):
        store_init(url, -1)
    with pytest.raises(InvalidArgumentError, match="timeout_ms"):
        store_init(url, 2**63)  # not an int64: refused before any C call
    with pytest.raises(InvalidArgumentError):
        Tracker(services(), store=url, store_timeout_ms=-1)
    with pytest.raises(InvalidArgumentError):
        Tracker(services(outage=7), store=url)
    with pytest.raises(ValueError, match="outage"):
        quotakeeper.ServiceDef("x", [("day", 1)], outage="sometimes")
    with pytest.raises(TypeError):
        store_init(b"redis://127.0.0.1:1")
    with Tracker(services()) as t:  # no store: the store calls are refused
        with pytest.raises(InvalidArgumentError, match="no store"):
            t.store_sync()
        with pytest.raises(InvalidArgumentError, match="no store"):
            t.store_status()
    assert redis_command(redis_server.port, "DBSIZE") == 0


def test_a_password_is_used_and_never_shown(redis_with_password):
    srv = redis_with_password
    with Tracker(services(), store=redis_url(srv, REDIS_PASSWORD), store_timeout_ms=CALM_MS) as t:
        t.try_consume("api")
        t.store_sync()  # the right password: the store has the count
        assert t.store_status().services["api"].windows[0].fleet_used == 1
        for shown in (repr(t), t.store):
            assert REDIS_PASSWORD not in shown and ":***@" in shown
    assert store_init(redis_url(srv, REDIS_PASSWORD), CALM_MS) is False

    wrong = "not-" + REDIS_PASSWORD
    seen = []
    with pytest.raises(StoreError) as e:
        store_init(redis_url(srv, wrong), CALM_MS)
    seen += [str(e.value), repr(e.value)]
    with Tracker(services(), store=redis_url(srv, wrong), store_timeout_ms=CALM_MS) as t:
        t.record("api")  # the tracker opens and counts; the store refuses it
        with pytest.raises(StoreError) as e:
            t.store_sync()
        assert isinstance(e.value, quotakeeper.StateFileError) and e.value.name == "QK_EIO"
        st = t.store_status()
        assert st.failures >= 1 and st.last_error
        seen += [str(e.value), repr(e.value), st.last_error, repr(st), repr(t)]
    with pytest.raises(InvalidArgumentError) as e:  # malformed, with a password in it
        Tracker(services(), store=f"redis://:{REDIS_PASSWORD}@127.0.0.1:notaport")
    seen += [str(e.value), repr(e.value)]
    for text in seen:
        assert REDIS_PASSWORD not in text, text
        assert "S3cret" not in text, text


def test_a_store_that_does_not_answer_raises_within_the_timeout(silent_server):
    url = f"redis://127.0.0.1:{silent_server.port}"
    events = []
    start = time.monotonic()
    t = Tracker(services("closed") + [{"name": "safe", "windows": [("day", 10)]},
                                      {"name": "open", "windows": [("day", 10)],
                                       "outage": Outage.OPEN}],
                store=url, store_timeout_ms=SHORT_MS, on_event=events.append)
    assert time.monotonic() - start < SHORT_MS / 1000 + SLACK_S  # it opens without the store
    with t:
        for _ in range(3):
            start = time.monotonic()
            with pytest.raises(StoreUnavailableError):
                t.store_sync()
            assert time.monotonic() - start < SHORT_MS / 1000 + SLACK_S
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            t.try_consume("api")  # no lease, policy CLOSED: refused, nothing counted
        assert time.monotonic() - start < SHORT_MS / 1000 + SLACK_S
        assert t.peek("api").used == 0
        # The policy reaches the library: SAFE gives a host that never synced nothing, OPEN
        # the local limit.
        with pytest.raises(StoreUnavailableError):
            t.try_consume("safe")
        assert t.try_consume("open", 10).used == 10
        with pytest.raises(quotakeeper.QuotaExceeded):
            t.try_consume("open")
        st = t.store_status()
        assert st.degraded is True and st.consecutive_failures >= 3 and st.last_error
        assert st.failures >= 3 and st.consecutive_successes == 0
        kinds = [e.kind for e in events]
        assert kinds.count(EventKind.STORE_DEGRADED) == 1, kinds
        assert all(e.service is None for e in events if e.kind != EventKind.LEVEL)
    start = time.monotonic()
    with pytest.raises(StoreUnavailableError):
        store_init(url, SHORT_MS)
    assert time.monotonic() - start < SHORT_MS / 1000 + SLACK_S


def test_a_stopped_server_is_unavailable_and_its_counts_go_with_the_next_sync(redis_server,
                                                                                tmp_path):
    """Killed by pid mid-life and started again on the same port: the sync in between raises
    StoreUnavailableError and loses nothing."""
    import servers

    port = redis_server.port
    with Tracker(services(), store=redis_url(redis_server), store_timeout_ms=SHORT_MS) as t:
        t.try_consume("api", 4)
        t.store_sync()
        t.record("api", 2)  # a fact: counted here whatever the store says
        redis_server.stop()
        with pytest.raises(StoreUnavailableError):
            t.store_sync()
        again = servers.Server("redis-server", lambda p: [
            servers.redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir",
            str(tmp_path), "--save", "", "--daemonize", "no", "--appendonly", "no"],
            str(tmp_path), servers._redis_ping(None), port=port)
        try:
            t.store_sync()  # the restarted (empty) server is re-told every total
            w = t.store_status().services["api"].windows[0]
            assert (w.fleet_used, w.unsynced) == (6, 0)
            assert redis_command(port, "HGET", key_of("api", "m", w), "U") == "6"
        finally:
            again.stop()


def test_dynamodb_on_dynalite_init_consume_sync_status(dynalite_server):
    url = (f"dynamodb://qk_py?region=us-east-1&endpoint=http://127.0.0.1:"
           f"{dynalite_server.port}")
    assert store_init(url, 20000) is True  # made the table, ACTIVE on return
    assert store_init(url, 20000) is False  # found it
    with Tracker(services(), store=url, store_timeout_ms=CALM_MS) as t:
        assert t.store == url  # no password in a DynamoDB URL: shown as it is
        t.try_consume("api", 7)
        t.store_sync()
        st = t.store_status()
        assert st.degraded is False and st.last_error is None
        assert [(w.fleet_used, w.unsynced, w.held) for w in st.services["api"].windows] == \
            [(7, 0, 0), (7, 0, 0)]
        assert "qk-test-secret" not in repr(st) + repr(t)
