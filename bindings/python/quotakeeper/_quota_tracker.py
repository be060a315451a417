"""QuotaTracker: the original service's tracker (tiingo, finnhub, sendgrid) for new code,
with its method names, limits and thresholds, on the C library's exact counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from ._core import Tracker
from .types import Event, Level, Period, ServiceDef, Usage, ms_to_datetime

__all__ = ["QuotaTracker", "ServiceUsage", "ORIGINAL_LIMITS", "original_services"]

#: The original's three services: (name, limit, the period its limit is written for).
ORIGINAL_LIMITS: Tuple[Tuple[str, int, Period], ...] = (
    ("tiingo", 500, Period.MONTH),  # "500 symbols/month"
    ("finnhub", 60, Period.MINUTE),  # "60 calls/minute"
    ("sendgrid", 100, Period.DAY),  # "100 emails/day"
)
WARN_PCT = 50
CRITICAL_PCT = 80


def _critical_count(limit: int) -> int:
    """The first count at which used*100 >= CRITICAL_PCT*limit (the original's 80 %)."""
    return -(-CRITICAL_PCT * limit // 100)


def original_services(period: Optional[Period] = None) -> Tuple[ServiceDef, ...]:
    """The three services as definitions: limits 500/60/100, warn at 50 %, critical at 80 %,
    and a reserve of everything from the critical count up, so that a non-priority
    try_consume grants exactly when the original's ``can_call`` says yes (below 80 %).
    ``period`` overrides every service's period (the compat module uses the UTC day, which is
    how the original really behaved); None keeps the periods the limits are written for."""
    return tuple(
        ServiceDef(name, [(period if period is not None else p, limit)], warn_pct=WARN_PCT,
                   critical_pct=CRITICAL_PCT, reserve=limit - _critical_count(limit))
        for name, limit, p in ORIGINAL_LIMITS)


@dataclass(frozen=True)
class ServiceUsage:
    """One service's usage, with the original ``APIQuotaUsage``'s attribute names.

    A copy taken by the call that returned it (the original handed out its live object)."""

    service: str
    period: str  #: "minute", "hour", "day", "month" or "forever"
    limit: int
    used: int
    remaining: int  #: max(0, limit - used), derived, never stored
    reset_at: Optional[datetime]  #: when the window starts over (aware UTC); None: never
    warn_threshold: float = WARN_PCT / 100
    critical_threshold: float = CRITICAL_PCT / 100
    level: Level = Level.OK

    @property
    def percent_used(self) -> float:
        return self.used / self.limit * 100 if self.limit > 0 else 0.0

    @property
    def is_warning(self) -> bool:
        """used >= 50 % of the limit (integer arithmetic in the library)."""
        return self.level >= Level.WARN

    @property
    def is_critical(self) -> bool:
        """used >= 80 % of the limit: the original's can_call says no from here."""
        return self.level >= Level.CRITICAL

    def can_call(self) -> bool:
        """The original's rule: room left and not critical."""
        return self.remaining > 0 and not self.is_critical

    def summary(self) -> Dict[str, Any]:
        return {"used": self.used, "limit": self.limit, "remaining": self.remaining,
                "percent_used": self.percent_used, "is_warning": self.is_warning,
                "is_critical": self.is_critical}

    @staticmethod
    def of(u: Usage) -> "ServiceUsage":
        w = u.windows[0]
        period = w.period.name.lower() if isinstance(w.period, Period) else str(w.period)
        return ServiceUsage(u.service, period, w.limit, w.used, w.remaining,
                            None if w.reset_at_ms is None else ms_to_datetime(w.reset_at_ms),
                            level=w.level)


def usage_summary(usages: Dict[str, Usage]) -> Dict[str, Any]:
    """The original ``get_usage_summary()`` shape, from one snapshot."""
    out: Dict[str, Any] = {}
    total = 0
    for name, u in usages.items():
        su = ServiceUsage.of(u)
        out[name] = su.summary()
        total += su.used
    out["total_api_calls_today"] = total
    return out


class QuotaTracker:
    """The original's ``record_call``, ``can_call`` and ``get_usage_summary`` on tiingo (500 a
    month), finnhub (60 a minute) and sendgrid (100 a day), plus ``try_call``, which checks and
    counts in one atomic step. Windows are real calendar windows (UTC) here.

    ``QuotaTracker()`` counts in this process's memory, each instance its own counts;
    ``QuotaTracker(path=...)`` keeps them in a state file every process on the host shares.
    ``clock`` and ``on_event`` are :class:`Tracker`'s. Thread-safe.
    """

    SERVICES: Tuple[str, ...] = tuple(name for name, _, _ in ORIGINAL_LIMITS)

    def __init__(self, path: Optional[str] = None, *, clock: Optional[Callable[[], int]] = None,
                 on_event: Optional[Callable[[Event], Any]] = None,
                 services: Optional[Sequence[ServiceDef]] = None, **tracker_kwargs: Any):
        defs = tuple(services) if services is not None else original_services()
        self.tracker = Tracker(defs, path=path, clock=clock, on_event=on_event,
                               **tracker_kwargs)

    def record_call(self, service: str, count: int = 1) -> ServiceUsage:
        """Counts ``count`` calls (never refuses: the call was made). Returns the usage."""
        return ServiceUsage.of(self.tracker.record(service, count))

    def can_call(self, service: str) -> bool:
        """Whether a call is allowed now: room left and below 80 %. A check only: between it
        and ``record_call`` other threads may take the room; ``try_call`` does both at once."""
        return ServiceUsage.of(self.tracker.peek(service)).can_call()

    def try_call(self, service: str, count: int = 1) -> bool:
        """Counts ``count`` calls if, and only if, ``can_call`` would allow them, atomically:
        N threads racing for the last call get exactly one True."""
        from .errors import QuotaExceeded
        try:
            self.tracker.try_consume(service, count)
        except QuotaExceeded:
            return False
        return True

    def usage(self, service: str) -> ServiceUsage:
        """One service's current usage."""
        return ServiceUsage.of(self.tracker.peek(service))

    @property
    def tiingo(self) -> ServiceUsage:
        return self.usage("tiingo")

    @property
    def finnhub(self) -> ServiceUsage:
        return self.usage("finnhub")

    @property
    def sendgrid(self) -> ServiceUsage:
        return self.usage("sendgrid")

    def get_usage_summary(self) -> Dict[str, Any]:
        """Per service ``used``, ``limit``, ``remaining``, ``percent_used``, ``is_warning`` and
        ``is_critical``, plus ``total_api_calls_today`` (the sum of the current windows'
        counts), all from one consistent snapshot."""
        return usage_summary(self.tracker.snapshot())

    def close(self) -> None:
        self.tracker.close()

    def __enter__(self) -> "QuotaTracker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
