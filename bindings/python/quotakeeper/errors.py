"""One exception class per QK_E* code of the C library.

The classes are keyed by the code's stable name as ``qk_err_name()`` gives it ("QK_ELIMIT"),
never by its number alone: a code this binding does not know yet (a newer library) still gets
its own subclass of :class:`QuotaKeeperError`, named after it, with the library's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Type

if TYPE_CHECKING:  # pragma: no cover
    from .types import Usage

__all__ = [
    "QuotaKeeperError",
    "InvalidArgumentError",
    "UnknownServiceError",
    "ServiceExistsError",
    "OutOfMemoryError",
    "QuotaExceeded",
    "TrackerFullError",
    "OutOfRangeError",
    "StateFileError",
    "StoreError",
    "CorruptStateFileError",
    "StoreUnavailableError",
    "ReadOnlyError",
    "TrackerClosedError",
]


class QuotaKeeperError(Exception):
    """A quotakeeper call failed. Nothing was changed (the C library's rule).

    Attributes:
        code: the library's negative error code (``-5``).
        name: its stable name (``"QK_ELIMIT"``).
        message: what went wrong, in the library's words (``qk_errmsg()``).
    """

    code: int = 0
    name: str = ""

    def __init__(self, message: str, code: Optional[int] = None, name: Optional[str] = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if name is not None:
            self.name = name

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.name else self.message


class InvalidArgumentError(QuotaKeeperError, ValueError):
    """QK_EINVAL: a bad argument (a name, a count of 0, an unknown window...)."""

    name = "QK_EINVAL"


class UnknownServiceError(QuotaKeeperError, LookupError):
    """QK_ENOENT: no service of that name or index."""

    name = "QK_ENOENT"


class ServiceExistsError(QuotaKeeperError, ValueError):
    """QK_EEXIST: a service with that name already exists."""

    name = "QK_EEXIST"


class OutOfMemoryError(QuotaKeeperError, MemoryError):
    """QK_ENOMEM."""

    name = "QK_ENOMEM"


class QuotaExceeded(QuotaKeeperError):
    """QK_ELIMIT: the quota would be exceeded; nothing was counted.

    Not a fault but an answer. ``usage`` is the service's usage at the refusal:
    ``usage.tripped`` is the window that refused and ``usage.reset_at`` when it resets.
    """

    name = "QK_ELIMIT"

    def __init__(self, message: str, code: Optional[int] = None, name: Optional[str] = None,
                 usage: "Optional[Usage]" = None):
        super().__init__(message, code, name)
        self.usage = usage


class TrackerFullError(QuotaKeeperError):
    """QK_EFULL: no room for another service (capacity reached)."""

    name = "QK_EFULL"


class OutOfRangeError(QuotaKeeperError, OverflowError):
    """QK_ERANGE: a count would overflow, or a buffer is too small."""

    name = "QK_ERANGE"


class StateFileError(QuotaKeeperError, OSError):
    """QK_EIO: the state file cannot be opened, locked, sized, mapped or flushed."""

    name = "QK_EIO"

    def __init__(self, message: str, code: Optional[int] = None, name: Optional[str] = None):
        QuotaKeeperError.__init__(self, message, code, name)


class StoreError(StateFileError):
    """QK_EIO from a store call (``store_sync``, ``store_init``): the shared store answered
    with an error, which the message names (never with a password).

    QK_EIO is one code for every I/O failure, so this is a :class:`StateFileError` (and an
    ``OSError``) too: ``except StateFileError`` still catches every QK_EIO, and ``except
    StoreError`` only the store's. Nothing is lost: unsynced counts stay on the host."""


class CorruptStateFileError(QuotaKeeperError):
    """QK_ECORRUPT: the state file is truncated, corrupt, foreign or of another version.

    The file was left untouched."""

    name = "QK_ECORRUPT"


class StoreUnavailableError(QuotaKeeperError):
    """QK_EUNAVAIL: the shared store did not answer within ``store_timeout_ms`` (a sync, an
    init, or a consume of a service whose outage policy is ``CLOSED``). Nothing is lost: the
    counts stay on the host and go with the next sync."""

    name = "QK_EUNAVAIL"


class ReadOnlyError(QuotaKeeperError):
    """QK_EREADONLY: the tracker was opened read-only."""

    name = "QK_EREADONLY"


class TrackerClosedError(QuotaKeeperError, ValueError):
    """The tracker was closed (a Python-side error: no C code was called)."""

    name = ""


#: The classes for the names this binding was written for (errors.h at 0.2).
BY_NAME: Dict[str, Type[QuotaKeeperError]] = {
    cls.name: cls
    for cls in (InvalidArgumentError, UnknownServiceError, ServiceExistsError,
                OutOfMemoryError, QuotaExceeded, TrackerFullError, OutOfRangeError,
                StateFileError, CorruptStateFileError, StoreUnavailableError, ReadOnlyError)
}


def class_for(name: str) -> Type[QuotaKeeperError]:
    """The class for a code's name; a new subclass for a name this binding does not know."""
    cls = BY_NAME.get(name)
    if cls is None:
        cls = type(name, (QuotaKeeperError,), {"name": name, "__doc__": f"{name}."})
        BY_NAME[name] = cls
    return cls
