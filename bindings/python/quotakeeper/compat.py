"""A drop-in for the original service's quota module (``src.lambdas.shared.quota_tracker``):
the same public names and behaviour, on the C library's exact counts.

Change the import line and nothing else::

    from quotakeeper.compat import QuotaTrackerManager, clear_quota_cache, get_quota_cache_stats

What stays as the original documented it: tiingo 500, finnhub 60 and sendgrid 100, every
count in one UTC calendar day (the original labelled them month, minute and day but counted
them all per day), warning at 50 %, critical at 80 %, ``can_call`` false from 80 % on,
``record_call`` never refusing, one shared state per process whatever the number of managers,
``get_usage_summary()``'s keys, and the cache statistics.

What is fixed: no update is ever lost (the C library counts, each service under its own lock);
``get_tracker()`` returns a consistent snapshot by value, not the live object; clearing the
cache resets the statistics but never a count; a count of 0 or less and an unknown service are
refused before anything is counted; ``try_call`` checks and counts in one atomic step.

Where the counts live: ``configure(path=...)`` puts them in a state file that every process
on the host shares and that survives restarts. Without it they are in this process's memory,
one set of counts per ``table`` object: managers given the same table (or equal ones) share
counts as the original's managers shared the table's item, and a new table starts from zero
as a new table did. The table itself is never read or written (there is no shared store yet).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional

from ._core import Tracker
from ._quota_tracker import ServiceUsage, _critical_count, original_services, usage_summary
from .errors import QuotaExceeded, UnknownServiceError
from .types import Period, Usage

__all__ = ["QuotaTrackerManager", "TrackerSnapshot", "ServiceUsage", "UnknownService",
           "clear_quota_cache", "get_quota_cache_stats", "configure"]

SERVICES = ("tiingo", "finnhub", "sendgrid")


class UnknownService(UnknownServiceError, AttributeError):
    """An unknown service name. Also an AttributeError, which is what the original raised."""


@dataclass(frozen=True)
class TrackerSnapshot:
    """What ``get_tracker()`` and ``record_call()`` return: every service's usage from one
    consistent snapshot, with the original ``QuotaTracker`` model's attribute names
    (``tracker.tiingo.used``, ``.limit``, ``.remaining``, ``.is_warning``, ``.is_critical``)."""

    services: Dict[str, ServiceUsage]
    updated_at: datetime
    tracker_id: str = "QUOTA_TRACKER"
    estimated_daily_cost: float = 0.0  # never computed by the original either
    _extra: Dict[str, Any] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> ServiceUsage:
        services = self.__dict__.get("services")
        if services is not None and name in services:
            return services[name]
        raise AttributeError(name)

    @property
    def total_api_calls_today(self) -> int:
        return sum(s.used for s in self.services.values())

    @property
    def pk(self) -> str:
        return "SYSTEM#QUOTA"

    @property
    def sk(self) -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%d")

    def can_call(self, service: str) -> bool:
        return self._service(service).can_call()

    def get_reserve_allocation(self, service: str) -> int:
        """10 % of the limit, as the original reported (it enforced none)."""
        return int(self._service(service).limit * 0.1)

    def _service(self, service: str) -> ServiceUsage:
        try:
            return self.services[service]
        except KeyError:
            raise UnknownService(f"unknown service: no service named '{service}'") from None


class _Entry:
    __slots__ = ("tracker", "cached", "table", "__weakref__")

    def __init__(self, tracker: Tracker, table: Any = None):
        self.tracker = tracker
        self.cached = False
        self.table = table  # kept alive only when it cannot be a weak key


_lock = threading.Lock()  # the registry, the flags and the statistics; never held in C calls
_by_table: "weakref.WeakKeyDictionary[Any, _Entry]" = weakref.WeakKeyDictionary()
_by_id: Dict[Any, _Entry] = {}
_config: Dict[str, Any] = {"path": None, "clock": None}
_stats = {"hits": 0, "misses": 0, "syncs": 0, "atomic_writes": 0}


def configure(path: Optional[str] = None, clock: Optional[Callable[[], int]] = None) -> None:
    """Where the counts live from now on: ``path`` a state file shared by every manager in
    every process that configures the same path (the table is then ignored); None (the
    default) this process's memory, one set of counts per table. ``clock`` returns
    milliseconds since the epoch, for tests. Call it at start-up, before any manager is in
    use: the trackers opened so far are closed (their counts stay where they live)."""
    with _lock:
        _config["path"] = path
        _config["clock"] = clock
        old = list(_by_table.values()) + list(_by_id.values())
        _by_table.clear()
        _by_id.clear()
    for e in old:
        e.tracker.close()


def _open() -> Tracker:
    return Tracker(original_services(Period.DAY), path=_config["path"], clock=_config["clock"])


def _lookup(table: Any) -> Tracker:
    """The tracker for a table, counting a cache hit or miss exactly once per lookup."""
    with _lock:
        entry = None
        if _config["path"] is not None:
            key: Any = ("path", _config["path"])
            entry = _by_id.get(key)
            if entry is None:
                entry = _by_id[key] = _Entry(_open())
        else:
            try:
                entry = _by_table.get(table)
                if entry is None:
                    entry = _Entry(_open())
                    _by_table[table] = entry
            except TypeError:  # None, or a table that cannot be a weak key
                key = ("id", id(table))
                entry = _by_id.get(key)
                if entry is None:
                    entry = _by_id[key] = _Entry(_open(), table)
        if entry.cached:
            _stats["hits"] += 1
        else:
            _stats["misses"] += 1
            entry.cached = True
        return entry.tracker


def _count(stat: str, n: int = 1) -> None:
    with _lock:
        _stats[stat] += n


def clear_quota_cache() -> None:
    """Resets the statistics and makes the next lookup a miss, as the original did; unlike
    the original it never resets a count."""
    with _lock:
        for k in _stats:
            _stats[k] = 0
        for e in list(_by_table.values()) + list(_by_id.values()):
            e.cached = False


def get_quota_cache_stats() -> Dict[str, int]:
    """A copy of ``hits``, ``misses``, ``syncs`` and ``atomic_writes``: every lookup by a
    manager method counts one hit or one miss, every ``record_call`` one atomic write, every
    flush of the counts (``force_sync``, a service becoming critical) one sync."""
    with _lock:
        return dict(_stats)


def _snapshot(tracker: Tracker) -> TrackerSnapshot:
    usages = tracker.snapshot()
    return TrackerSnapshot({n: ServiceUsage.of(u) for n, u in usages.items()},
                           datetime.now(timezone.utc))


def _translate(exc: UnknownServiceError) -> UnknownService:
    return UnknownService(exc.message, exc.code)


class QuotaTrackerManager:
    """The original manager's public methods. ``table`` is accepted and never used but to
    tell sets of counts apart (see the module's docstring)."""

    def __init__(self, table: Any = None):
        self.table = table

    def _tracker(self) -> Tracker:
        return _lookup(self.table)

    def get_tracker(self) -> TrackerSnapshot:
        """Every service's usage, one consistent snapshot."""
        return _snapshot(self._tracker())

    def record_call(self, service: str, count: int = 1) -> TrackerSnapshot:
        """Counts ``count`` calls already made (never refuses: the call happened) and returns
        a snapshot taken right after. A service crossing 80 % flushes the counts (a sync)."""
        tracker = self._tracker()
        try:
            usage = tracker.record(service, count)
        except UnknownServiceError as exc:
            raise _translate(exc) from None
        _count("atomic_writes")
        used = usage.windows[0].used
        crit = _critical_count(usage.windows[0].limit)
        if used >= crit > used - count:
            tracker.flush()
            _count("syncs")
        return _snapshot(tracker)

    def can_call(self, service: str) -> bool:
        """Room left and below 80 % (a check only; ``try_call`` checks and counts)."""
        try:
            return ServiceUsage.of(self._tracker().peek(service)).can_call()
        except UnknownServiceError as exc:
            raise _translate(exc) from None

    def try_call(self, service: str, count: int = 1) -> bool:
        """Counts ``count`` calls only if ``can_call`` would allow them, in one atomic step:
        threads racing for the last call get exactly one True. The original had no such call."""
        tracker = self._tracker()
        try:
            tracker.try_consume(service, count)
        except QuotaExceeded:
            return False
        except UnknownServiceError as exc:
            raise _translate(exc) from None
        _count("atomic_writes")
        return True

    def get_usage_summary(self) -> Dict[str, Any]:
        """Per service ``used``, ``limit``, ``remaining``, ``percent_used``, ``is_warning``,
        ``is_critical``, and ``total_api_calls_today``, all from one consistent snapshot."""
        return usage_summary(self._tracker().snapshot())

    def force_sync(self) -> bool:
        """Writes the counts to disk (a state file's msync; nothing to do in memory)."""
        self._tracker().flush()
        _count("syncs")
        return True

    def is_reduced_rate(self) -> bool:
        """Always False: reduced-rate mode was a reaction to DynamoDB failures, and no count
        here depends on a remote store."""
        return False

