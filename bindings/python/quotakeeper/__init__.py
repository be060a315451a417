"""quotakeeper for Python: count and gate calls to rate-limited APIs from many threads and
processes, losing no count.

A thin layer over the C library (libquotakeeper) through cffi: every count, window and lock is
the library's, and the GIL is released while it works. See docs/python.md.

    from quotakeeper import Tracker, QuotaExceeded

    with Tracker([{"name": "finnhub", "windows": [("minute", 60), ("day", 1000)]}]) as t:
        try:
            t.try_consume("finnhub")
        except QuotaExceeded as e:
            print("full until", e.usage.reset_at)

``quotakeeper.QuotaTracker`` is the original service's tracker (tiingo, finnhub, sendgrid) for
new code; ``quotakeeper.compat`` is a drop-in for the original module.
"""

from ._core import (BINDING_MAJOR, Service, Tracker, redact_url, store_init, version,
                    version_string)
from ._quota_tracker import QuotaTracker, ServiceUsage
from .errors import (CorruptStateFileError, InvalidArgumentError, OutOfMemoryError,
                     OutOfRangeError, QuotaExceeded, QuotaKeeperError, ReadOnlyError,
                     ServiceExistsError, StateFileError, StoreError, StoreUnavailableError,
                     TrackerClosedError, TrackerFullError, UnknownServiceError)
from .types import (Event, EventKind, Level, Outage, Period, ServiceDef, StoreServiceStatus,
                    StoreStatus, StoreWindowStatus, Usage, Window, WindowUsage)

__version__ = "0.2.0"

__all__ = [
    "Tracker", "QuotaTracker", "ServiceUsage", "Service", "ServiceDef", "Window", "Period",
    "Level", "EventKind", "Outage", "Event", "Usage", "WindowUsage", "StoreStatus",
    "StoreServiceStatus", "StoreWindowStatus", "store_init", "redact_url", "version",
    "version_string", "BINDING_MAJOR", "QuotaKeeperError", "InvalidArgumentError",
    "UnknownServiceError", "ServiceExistsError", "OutOfMemoryError", "QuotaExceeded",
    "TrackerFullError", "OutOfRangeError", "StateFileError", "StoreError",
    "CorruptStateFileError", "StoreUnavailableError", "ReadOnlyError", "TrackerClosedError",
]
