"""Plain-Python values the binding passes in and out: no pointer into the tracker survives a
call, so every value here is a copy that is safe to keep and to share between threads."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["Period", "Level", "EventKind", "Outage", "Window", "ServiceDef", "WindowUsage",
           "Usage", "Event", "ServiceSpec", "StoreWindowStatus", "StoreServiceStatus",
           "StoreStatus"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def ms_to_datetime(ms: int) -> datetime:
    """Milliseconds since the Unix epoch to an aware UTC datetime (exact, no float)."""
    return _EPOCH + timedelta(milliseconds=ms)


class Period(enum.IntEnum):
    """A window's calendar period (UTC boundaries)."""

    MINUTE = 0
    HOUR = 1
    DAY = 2  #: resets at 00:00 UTC
    MONTH = 3  #: resets at 00:00 UTC on the first of the month
    FOREVER = 4  #: never resets
    SECOND = 5  #: options version 4
    WEEK = 6  #: an ISO week, from Monday 00:00 UTC (options version 4)


class Level(enum.IntEnum):
    """How full a window is; a service's level is its fullest window's."""

    OK = 0
    WARN = 1  #: used*100 >= warn_pct*limit
    CRITICAL = 2  #: used*100 >= critical_pct*limit
    EXHAUSTED = 3  #: used >= limit


class EventKind(enum.IntEnum):
    """What an :class:`Event` reports."""

    LEVEL = 0  #: a window's level changed
    STORE_DEGRADED = 1  #: the shared store stopped answering
    STORE_RECOVERED = 2  #: the shared store answers again


class Outage(enum.IntEnum):
    """What a service's consumes do beyond the host's lease while the shared store cannot be
    reached (docs/store.md, "Outage"); used only by a tracker with a ``store``."""

    SAFE = 0  #: a bounded share of what was left at the last sync (the default)
    CLOSED = 1  #: refuse, with StoreUnavailableError
    OPEN = 2  #: the local limit only: the fleet may admit up to hosts x limit


def _enum_or_int(cls, value):
    try:
        return cls(value)
    except ValueError:  # a newer library's value: keep the number
        return int(value)


@dataclass(frozen=True)
class Window:
    """One window of a service: at most ``limit`` calls per ``every`` ``period`` s.

    ``Window(Period.MINUTE, 900, every=15)``: 900 calls a quarter hour; ``offset_ms`` moves
    the boundaries later (``Window(Period.DAY, 1000, offset_ms=7 * 3600_000)`` resets at 07:00
    UTC; a whole second, below the window's length); ``rolling=True`` counts at most ``limit``
    in any interval of the window's length (a second to a week, times ``every``), in 50
    buckets of a fiftieth of it: a call holds the window until its bucket slides out, so a
    refusal's ``reset_at`` is when enough of the oldest calls have left, and a state file
    keeps the buckets across processes and reopens (docs/windows.md, "Rolling windows"). A
    tracker with a ``store`` refuses a rolling window, as does a month, forever or an offset
    on one (:class:`InvalidArgumentError`). ``tz`` names an IANA zone for a day, week or
    month window, whose boundaries are then local midnights (docs/windows.md, "Time zones");
    not with an offset or a store in this build.
    The library checks every field, so its message is the one raised (docs/windows.md).
    """

    period: Period
    limit: int
    every: int = 1
    offset_ms: int = 0
    rolling: bool = False
    tz: Optional[str] = None

    @staticmethod
    def of(value: "WindowSpec") -> "Window":
        if isinstance(value, Window):
            return value
        period, limit = value
        if isinstance(period, str):
            try:
                period = Period[period.upper()]
            except KeyError:
                raise ValueError(f"unknown period {period!r}: one of "
                                 f"{', '.join(p.name.lower() for p in Period)}") from None
        return Window(Period(period), int(limit))

    @property
    def length_ms(self) -> int:
        """every x the period's length; 0 for months and forever, whose length varies."""
        ms = {Period.SECOND: 1000, Period.MINUTE: 60_000, Period.HOUR: 3_600_000,
              Period.DAY: 86_400_000, Period.WEEK: 604_800_000}.get(self.period, 0)
        return max(self.every, 1) * ms


WindowSpec = Union[Window, Tuple[Union[Period, str, int], int]]


@dataclass(frozen=True)
class ServiceDef:
    """A service to register: a name, one to four windows, thresholds and a reserve.

    ``windows`` takes :class:`Window` values or ``(period, limit)`` pairs, the period as a
    :class:`Period` or its name (``("minute", 60)``). ``warn_pct``/``critical_pct`` of 0 mean
    50 and 80. ``reserve`` calls of each window are kept for ``priority`` consumers.
    ``outage`` (an :class:`Outage` or its name, ``"closed"``) and ``lease_max`` (most calls one
    host holds at a time; 0: adaptive, 1: every consume asks the store) matter only with a
    shared store.
    """

    name: str
    windows: Sequence[WindowSpec] = ()
    warn_pct: int = 0
    critical_pct: int = 0
    reserve: int = 0
    outage: Union[Outage, str, int] = Outage.SAFE
    lease_max: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(Window.of(w) for w in self.windows))
        outage = self.outage
        if isinstance(outage, str):
            try:
                outage = Outage[outage.upper()]
            except KeyError:
                raise ValueError(f"unknown outage policy {outage!r}: one of "
                                 f"{', '.join(o.name.lower() for o in Outage)}") from None
        else:
            outage = _enum_or_int(Outage, outage)  # a number the library may know: it checks
        object.__setattr__(self, "outage", outage)

    @staticmethod
    def of(value: "ServiceSpec") -> "ServiceDef":
        if isinstance(value, ServiceDef):
            return value
        if isinstance(value, Mapping):
            return ServiceDef(**value)
        raise TypeError(f"a service is a ServiceDef or a mapping, not {type(value).__name__}")


ServiceSpec = Union[ServiceDef, Mapping]


@dataclass(slots=True)  # a plain copy: cheap to build on every call
class WindowUsage:
    """One window's count at the time of the call."""

    period: Period
    limit: int
    used: int
    remaining: int  #: limit - used, 0 when over; ignores the reserve
    window_start_ms: int
    reset_at_ms: Optional[int]  #: the window's end; None for a FOREVER window
    level: Level

    @property
    def window_start(self) -> datetime:
        """When the window began, an aware UTC datetime."""
        return ms_to_datetime(self.window_start_ms)

    @property
    def reset_at(self) -> Optional[datetime]:
        """When the window ends and its count starts over (aware UTC); None: never."""
        return None if self.reset_at_ms is None else ms_to_datetime(self.reset_at_ms)


@dataclass(slots=True)  # a plain copy: cheap to build on every call
class Usage:
    """A service's usage, copied out by the call that returned it.

    ``remaining`` and ``reset_at`` are the binding window's: the one that refused
    (``tripped``), else the one with the least remaining. ``reset_at`` is an aware UTC
    datetime, None when that window never resets (``reset_at_ms`` is the same instant in
    milliseconds since the epoch). ``level`` is the fullest window's.
    """

    service: str
    index: int
    level: Level
    remaining: int
    reset_at_ms: Optional[int]
    tripped: Optional[int]  #: index of the window that refused a consume, else None
    windows: Tuple[WindowUsage, ...] = field(default_factory=tuple)

    @property
    def reset_at(self) -> Optional[datetime]:
        """When the binding window resets, an aware UTC datetime; None: never."""
        return None if self.reset_at_ms is None else ms_to_datetime(self.reset_at_ms)

    @property
    def used(self) -> int:
        """The first window's count (the service's main window)."""
        return self.windows[0].used if self.windows else 0

    @property
    def limit(self) -> int:
        """The first window's limit."""
        return self.windows[0].limit if self.windows else 0


@dataclass(slots=True)  # a plain copy: cheap to build on every call
class Event:
    """A change of a window's level, or a store outage or recovery (``kind``).

    Delivered to ``on_event`` in the thread whose call caused it, after the library released
    its locks. ``seq`` counts from 1 per service in the order the changes happened.
    """

    kind: EventKind
    service: Optional[str]  #: None for store events
    index: int
    window: int
    from_level: Level
    to_level: Level
    used: int
    limit: int
    window_start_ms: int
    seq: int

    @property
    def window_start(self) -> datetime:
        """When the window that changed began, an aware UTC datetime."""
        return ms_to_datetime(self.window_start_ms)


@dataclass(frozen=True)
class StoreWindowStatus:
    """One window of one service as this host holds it in the shared store (a copy)."""

    period: Period
    window_start_ms: int
    held: int  #: granted to this host and not used yet: consumes stay local
    unsynced: int  #: used here and not yet acknowledged by the store
    fleet_used: int  #: every host's use at the last sync
    fleet_limit: int  #: the limit at the last sync
    overdraft: int  #: use recorded beyond the limit, fleet-wide, at the last sync

    @property
    def window_start(self) -> datetime:
        """When the window began, an aware UTC datetime."""
        return ms_to_datetime(self.window_start_ms)


@dataclass(frozen=True)
class StoreServiceStatus:
    """One service's windows in the shared store, as this host holds them."""

    service: str
    index: int
    windows: Tuple[StoreWindowStatus, ...] = ()


@dataclass(frozen=True)
class StoreStatus:
    """A tracker's view of its shared store (``qk_store_status``), copied out; no secret.

    ``degraded``: the store is treated as unreachable (docs/store.md, "Outage"). ``syncs`` and
    ``failures`` count store operations since the tracker opened. ``last_error`` is the last
    failure in the library's words (never a password), None when there was none.
    ``services`` maps each service's name, in index order, to its windows.
    """

    degraded: bool
    consecutive_failures: int
    consecutive_successes: int
    syncs: int
    failures: int
    clock_offset_ms: int  #: the store's clock minus this host's, at the last sync
    host_id: str  #: this host in the store's keys (32 hex digits)
    last_error: Optional[str]
    services: Mapping[str, StoreServiceStatus] = field(default_factory=dict)


def _iter_services(services: Optional[Iterable[ServiceSpec]]) -> Tuple[ServiceDef, ...]:
    return tuple(ServiceDef.of(s) for s in (services or ()))
