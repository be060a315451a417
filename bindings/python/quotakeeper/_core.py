"""The Tracker: a Pythonic face over the whole C API (include/quotakeeper.h)."""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import weakref
from threading import get_ident
from typing import (Any, Callable, Dict, Iterable, List, Optional, Tuple, Union)

from . import errors as _errors
from .errors import (InvalidArgumentError, QuotaExceeded, QuotaKeeperError, TrackerClosedError)
from .types import (Event, EventKind, Level, Period, ServiceDef, ServiceSpec, StoreServiceStatus,
                    StoreStatus, StoreWindowStatus, Usage, Window, WindowUsage, _enum_or_int,
                    _iter_services)

try:
    from ._native import ffi, lib
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "quotakeeper: the compiled part (quotakeeper._native) is missing or cannot load "
        f"libquotakeeper ({exc}); build it as docs/python.md says") from exc

__all__ = ["Tracker", "version", "version_string", "BINDING_MAJOR", "Service", "store_init"]

#: The library's major version this binding was written for (include/quotakeeper.h at 0.2).
BINDING_MAJOR = 0
#: The oldest library this binding can use: qk_err_name() and options version 3 came in 0.2.
_MIN_VERSION = (0 << 16) | (2 << 8) | 0


def _check_version(loaded: int, text: str) -> None:
    """Refuses a library of another major version, or one older than this binding needs."""
    if loaded >> 16 != BINDING_MAJOR:
        raise ImportError(f"quotakeeper: the loaded libquotakeeper is {text} (major "
                          f"{loaded >> 16}); this binding was written for major {BINDING_MAJOR}")
    if loaded < _MIN_VERSION:
        raise ImportError(f"quotakeeper: the loaded libquotakeeper is {text}; this binding "
                          "needs 0.2.0 or later")


_check_version(lib.qk_version(), ffi.string(lib.qk_version_string()).decode())

log = logging.getLogger("quotakeeper")

Service = Union[str, int]  #: a service by name, or by its index

# Every code in the library's table, by number, mapped to its class through the stable name.
_ERROR_CLASSES: Dict[int, type] = {}
for _code in range(-1, -1000, -1):
    _name = ffi.string(lib.qk_err_name(_code)).decode()
    if _name == "unknown":
        break
    _ERROR_CLASSES[_code] = _errors.class_for(_name)

_LEVELS = tuple(Level)
_PERIODS = tuple(Period)
_NEVER = lib.QK_NEVER


def _level(v: int) -> Any:
    return _LEVELS[v] if 0 <= v < len(_LEVELS) else int(v)


def _period(v: int) -> Any:
    return _PERIODS[v] if 0 <= v < len(_PERIODS) else int(v)


def version() -> int:
    """The loaded library's version number, ``QK_VERSION_HEX`` (0x000200 is 0.2.0)."""
    return int(lib.qk_version())


def version_string() -> str:
    """The loaded library's version, "0.2.0"."""
    return ffi.string(lib.qk_version_string()).decode()


def _error(rc: int, message: Optional[str] = None, store: bool = False) -> QuotaKeeperError:
    """The exception for a failed call; reads qk_errmsg() unless a message is given, so call
    it right after the failing call, in the same thread. ``store``: the call's I/O is the
    store's, so QK_EIO is raised as StoreError (a StateFileError subclass)."""
    if message is None:
        message = ffi.string(lib.qk_errmsg()).decode("utf-8", "replace")
    cls = _ERROR_CLASSES.get(rc)
    if cls is None:
        name = ffi.string(lib.qk_err_name(rc)).decode()
        cls = _errors.class_for(name if name != "unknown" else f"QK_E{-rc}")
    if store and cls is _errors.StateFileError:
        cls = _errors.StoreError
    return cls(message, rc)


def redact_url(url: str) -> str:
    """A store URL with its password shown as ``***``, by the library's own rule
    (src/store/store.c, qk__store_url_redact): the user information runs from "://" to the
    URL's last '@' (none when the text after "://" starts with '/'), and its password is what
    follows the first ':' in it. A URL without a password is returned as it is."""
    sep = url.find("://")
    start = sep + 3 if sep >= 0 else 0
    auth = url[start:]
    if auth.startswith("/"):
        return url
    at = auth.rfind("@")
    colon = auth.find(":", 0, at) if at >= 0 else -1
    if colon < 0:
        return url
    return url[:start + colon] + ":***" + auth[at:]


_BAD_NUMBER = object()  # a count or index that does not fit the C type


def _failure(rc: Any, what: str) -> QuotaKeeperError:
    if rc is _BAD_NUMBER:
        return _py_error(InvalidArgumentError, f"invalid argument: {what} out of range")
    return _error(rc)


def _py_error(cls, message: str) -> QuotaKeeperError:
    """A Python-side refusal that mirrors a library code (checked before any C call)."""
    code = next((c for c, k in _ERROR_CLASSES.items() if k is cls), None)
    return cls(message, code)


def _struct_for(ctype: str, fields: List[Tuple[Tuple[Any, ...], str]]) -> "struct.Struct":
    """A struct.Struct reading the given fields of a C struct in one call, laid out from the
    compiler's own offsets and sizes (ffi.offsetof/sizeof): reading a qk_usage field by field
    through cffi costs far more than the C call that filled it."""
    codes = {(1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q",
             (1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q"}
    fmt, pos = "=", 0
    for path, kind in fields:
        off = ffi.offsetof(ctype, *path)
        assert off >= pos, path
        fmt += "x" * (off - pos)
        if kind.endswith("s"):  # a char array
            size = int(kind[:-1])
            fmt += f"{size}s"
        else:
            size = ffi.sizeof(kind)
            fmt += codes[(size, kind in ("int", "int64_t"))]
        pos = off + size
    return struct.Struct(fmt)


_W = int(lib.QK_MAX_WINDOWS)
_NAME = ffi.sizeof(dict(ffi.typeof("qk_usage").fields)["name"].type)
_USAGE = _struct_for("qk_usage", [
    (("service",), "qk_service"), (("name",), f"{_NAME}s"),
    (("level",), "qk_level"), (("remaining",), "uint64_t"), (("reset_at_ms",), "int64_t"),
    (("tripped",), "int"), (("n_windows",), "unsigned")] + [
    (("windows", i, f), k) for i in range(_W) for f, k in (
        ("period", "qk_period"), ("limit", "uint64_t"), ("used", "uint64_t"),
        ("remaining", "uint64_t"), ("window_start_ms", "int64_t"), ("reset_at_ms", "int64_t"),
        ("level", "qk_level"))])


def _usage(u) -> Usage:
    v = _USAGE.unpack_from(ffi.buffer(u))
    wins = []
    for i in range(v[6]):
        b = 7 + 7 * i
        wins.append(WindowUsage(_period(v[b]), v[b + 1], v[b + 2], v[b + 3], v[b + 4],
                                None if v[b + 5] == _NEVER else v[b + 5], _level(v[b + 6])))
    name = v[1]
    return Usage(name[:name.index(b"\0")].decode(), v[0], _level(v[2]), v[3],
                 None if v[4] == _NEVER else v[4], None if v[5] < 0 else v[5], tuple(wins))


class _Callbacks:
    """What the C callbacks reach through their context pointer. It holds no reference to the
    Tracker, so a tracker nobody uses is freed by reference counting alone."""

    __slots__ = ("on_event", "on_error", "clock", "errors", "_count_lock", "last_error")

    def __init__(self, on_event, on_error, clock):
        self.on_event = on_event
        self.on_error = on_error
        self.clock = clock
        self.errors = 0
        self.last_error: Optional[BaseException] = None
        self._count_lock = threading.Lock()

    def report(self, exc: BaseException, what: str, detail: Any) -> None:
        with self._count_lock:
            self.errors += 1
            self.last_error = exc
        handler = self.on_error
        if handler is not None:
            try:
                handler(exc, detail)
                return
            except BaseException as again:  # the reporter itself failed: fall through
                exc = again
        log.error("quotakeeper: the %s callback raised (%r); the library call it ran in went "
                  "on unaffected", what, detail, exc_info=(type(exc), exc, exc.__traceback__))


@ffi.def_extern()
def qk_py_event(ev, payload):  # called by the library, after its locks are released
    cbs: _Callbacks = ffi.from_handle(payload)
    event = None
    try:
        kind = _enum_or_int(EventKind, ev.kind)
        # Store events leave the service unset: only a level event names one.
        name = (ffi.string(ev.name).decode()
                if kind == EventKind.LEVEL and ev.name != ffi.NULL else None)
        event = Event(kind, name, ev.service, ev.window, _level(getattr(ev, "from")),
                      _level(ev.to), ev.used, ev.limit, ev.window_start_ms, ev.seq)
        cbs.on_event(event)
    except BaseException as exc:  # reported, never lost, never unwinding into C
        cbs.report(exc, "on_event", event)


@ffi.def_extern()
def qk_py_clock(ctx):  # called by the library with no lock held
    cbs: _Callbacks = ffi.from_handle(ctx)
    try:
        return int(cbs.clock())
    except BaseException as exc:
        cbs.report(exc, "clock", None)
        return time.time_ns() // 1_000_000  # the system clock, as with no clock at all


# fork(): private trackers need qk_atfork_* around it (docs/state-file.md); a tracker on a
# state file ignores them. os.register_at_fork runs these around os.fork() (and
# multiprocessing's fork start method) for every live tracker.
_ALL: "weakref.WeakSet[Tracker]" = weakref.WeakSet()
_FORK_LOCK = threading.Lock()
_forking: List[Any] = []


def _before_fork() -> None:
    _FORK_LOCK.acquire()
    for tr in list(_ALL):
        t = tr._t
        if t is not None:
            lib.qk_atfork_prepare(t)
            _forking.append(t)


def _after_fork_parent() -> None:
    for t in _forking:
        lib.qk_atfork_parent(t)
    _forking.clear()
    _FORK_LOCK.release()


def _after_fork_child() -> None:
    for t in _forking:
        lib.qk_atfork_child(t)
    _forking.clear()
    for tr in list(_ALL):
        tr._inflight.clear()  # threads that were inside a call do not exist here
    _FORK_LOCK.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                         after_in_child=_after_fork_child)


class Tracker:
    """Counts and gates calls to rate-limited services; thread-safe, and shared between
    processes through a state file when ``path`` is given.

    Args:
        services: the services to register, in order: :class:`ServiceDef` values or mappings
            (``{"name": "finnhub", "windows": [("minute", 60), ("day", 1000)]}``).
        path: a state file shared by every process on the host that opens it, surviving
            restarts; None keeps the counts in this process's memory.
        clock: a callable returning milliseconds since the Unix epoch (UTC); None: the system
            clock. Called from any thread, with no library lock held.
        on_event: a callable taking an :class:`Event`, called in the thread whose call caused
            the change, after the library released its locks; it may call this tracker again
            (except :meth:`close`). An exception it raises is reported (``on_event_error``, or
            logged on the ``quotakeeper`` logger) and counted in :attr:`callback_errors`; the
            call that caused the event is unaffected.
        capacity: most services ever (0: as many as ``services``).
        mode: permissions of a newly created state file (0: 0o600).
        readonly: inspect an existing state file; every change raises :class:`ReadOnlyError`.
        store: the URL of a shared store through which a fleet of hosts shares each quota
            (docs/store.md): ``redis://[user:password@]host:port[/db]``,
            ``redis+unix:///path``, ``dynamodb://table?region=...``. The tracker opens while
            the store is down (it syncs when it can); a malformed URL or a scheme this build
            lacks raises :class:`InvalidArgumentError`. Its password never appears in a
            message, ``repr`` or :attr:`store` (``***``).
        store_timeout_ms: the longest any store call may block a caller (0: 100).
        on_event_error: ``f(exception, event)`` to report a raising ``on_event`` or ``clock``.

    Use it as a context manager, or call :meth:`close`. Every method is thread-safe; the GIL is
    released while the library works.
    """

    def __init__(self, services: Iterable[ServiceSpec] = (), path: Optional[str] = None,
                 clock: Optional[Callable[[], int]] = None,
                 on_event: Optional[Callable[[Event], Any]] = None, *, capacity: int = 0,
                 mode: int = 0, readonly: bool = False, store: Optional[str] = None,
                 store_timeout_ms: int = 0,
                 on_event_error: Optional[Callable[[BaseException, Any], Any]] = None):
        self._t = None
        self._inflight: List[int] = []
        self._close_lock = threading.Lock()
        self._names: Dict[Any, int] = {}
        self._path = os.fspath(path) if path is not None else None
        self._readonly = bool(readonly)
        self._store: Optional[str] = None
        defs = _iter_services(services)
        self._cbs = _Callbacks(on_event, on_event_error, clock)
        self._handle = ffi.new_handle(self._cbs)

        keep: List[Any] = []  # C strings that must outlive qk_tracker_new
        opts = ffi.new("qk_options *")
        opts.version = lib.QK_OPTIONS_VERSION
        if defs:
            arr = ffi.new("qk_service_def[]", len(defs))
            for i, d in enumerate(defs):
                self._fill_def(arr[i], d, keep)
            opts.services = arr
            keep.append(arr)
        opts.n_services = len(defs)
        try:
            opts.capacity = capacity
            opts.mode = mode
            opts.store_timeout_ms = store_timeout_ms
        except (OverflowError, TypeError) as exc:
            raise _py_error(InvalidArgumentError, f"invalid argument: {exc}") from None
        if clock is not None:
            opts.clock = lib.qk_py_clock
            opts.clock_ctx = self._handle
        if on_event is not None:
            opts.on_event = lib.qk_py_event
            opts.payload = self._handle
        if self._path is not None:
            p = ffi.new("char[]", _c_string(self._path, "path"))
            keep.append(p)
            opts.path = p
        if readonly:
            opts.flags = lib.QK_OPEN_READONLY
        store_c = None
        if store is not None:
            store_c = ffi.new("char[]", _c_string(store, "store"))
            opts.store = store_c
        out = ffi.new("qk_tracker **")
        try:
            rc = lib.qk_tracker_new(out, opts)
        finally:
            if store_c is not None:  # the library keeps its own copy; wipe the binding's
                ffi.memmove(store_c, b"\0" * len(store_c), len(store_c))
        if rc:
            raise _error(rc)
        if store is not None:
            self._store = redact_url(store)
        self._t = out[0]
        _ALL.add(self)

    @staticmethod
    def _fill_def(cdef, d: ServiceDef, keep: List[Any]) -> None:
        if len(d.windows) > lib.QK_MAX_WINDOWS:
            raise _py_error(InvalidArgumentError,
                            f"invalid argument: service '{d.name}' has {len(d.windows)} "
                            f"windows, at most {lib.QK_MAX_WINDOWS}")
        name = ffi.new("char[]", _c_string(d.name, "service name"))
        keep.append(name)
        cdef.name = name
        try:
            for j, w in enumerate(d.windows):
                cdef.windows[j].period = int(w.period)
                cdef.windows[j].limit = w.limit
                cdef.windows[j].every = w.every
                cdef.windows[j].offset_ms = w.offset_ms
                cdef.windows[j].flags = lib.QK_WINDOW_ROLLING if w.rolling else 0
                if w.tz is not None:
                    tz = ffi.new("char[]", _c_string(w.tz, "tz"))
                    keep.append(tz)
                    cdef.windows[j].tz = tz
            cdef.warn_pct = d.warn_pct
            cdef.critical_pct = d.critical_pct
            cdef.reserve = d.reserve
            cdef.outage = int(d.outage)
            cdef.lease_max = d.lease_max
        except (OverflowError, TypeError) as exc:
            raise _py_error(InvalidArgumentError,
                            f"invalid argument: service '{d.name}': {exc}") from None

    # -- lifetime -------------------------------------------------------------------------

    @classmethod
    def open_readonly(cls, path: str, **kwargs: Any) -> "Tracker":
        """Opens an existing state file to inspect it (``readonly=True``)."""
        return cls((), path=path, readonly=True, **kwargs)

    def close(self) -> None:
        """Frees the tracker (flushing a state file). Waits for calls in flight in other
        threads; calls made afterwards raise :class:`TrackerClosedError`. Idempotent. Raises
        RuntimeError when called from inside a call on this tracker (an event callback)."""
        with self._close_lock:
            t = self._t
            if t is None:
                return
            if get_ident() in self._inflight:
                raise RuntimeError("quotakeeper: close() from inside a call on the same tracker "
                                   "(an on_event or clock callback)")
            self._t = None  # new calls see it before the wait below ends
            while self._inflight:
                time.sleep(0.0005)
            with _FORK_LOCK:
                lib.qk_tracker_free(t)
            _ALL.discard(self)

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        t = getattr(self, "_t", None)
        if t is not None:
            try:
                lib.qk_tracker_free(t)
            except Exception:  # interpreter shutdown
                pass
            self._t = None

    @property
    def closed(self) -> bool:
        return self._t is None

    @property
    def path(self) -> Optional[str]:
        """The state file's path, None for a private tracker."""
        return self._path

    @property
    def readonly(self) -> bool:
        return self._readonly

    @property
    def store(self) -> Optional[str]:
        """The shared store's URL with its password as ``***``; None without a store."""
        return self._store

    @property
    def callback_errors(self) -> int:
        """How many times ``on_event`` or ``clock`` raised (each one was reported)."""
        return self._cbs.errors

    @property
    def last_callback_error(self) -> Optional[BaseException]:
        """The latest exception a callback raised, None if none did."""
        return self._cbs.last_error

    # -- services -------------------------------------------------------------------------

    def _begin(self) -> Any:
        self._inflight.append(get_ident())  # before reading _t: close() waits for us
        t = self._t
        if t is None:
            self._inflight.remove(get_ident())
            raise TrackerClosedError("the tracker is closed")
        return t

    def _end(self) -> None:
        self._inflight.remove(get_ident())

    def _index(self, service: Service) -> int:
        idx = self._names.get(service)
        if idx is not None:
            return idx
        if isinstance(service, int) and not isinstance(service, bool):
            if not 0 <= service < 2**32:
                raise _py_error(_errors.UnknownServiceError, f"unknown service: index {service}")
            return service
        if not isinstance(service, str):
            raise TypeError(f"a service is a name or an index, not {type(service).__name__}")
        out = ffi.new("qk_service *")
        t = self._begin()
        try:
            rc = lib.qk_service_find(t, _c_string(service, "service name"), out)
        finally:
            self._end()
        if rc:
            raise _error(rc)
        idx = self._names[service] = int(out[0])  # stable for the tracker's life
        return idx

    def find(self, name: str) -> int:
        """The service's index (dense, in registration order; a state file's own)."""
        return self._index(name)

    def add_service(self, service: ServiceSpec) -> int:
        """Registers a service; returns its index. Its windows start in the current period."""
        d = ServiceDef.of(service)
        keep: List[Any] = []
        cdef = ffi.new("qk_service_def *")
        self._fill_def(cdef, d, keep)
        out = ffi.new("qk_service *")
        t = self._begin()
        try:
            rc = lib.qk_service_add(t, cdef, out)
        finally:
            self._end()
        if rc:
            raise _error(rc)
        return int(out[0])

    def __len__(self) -> int:
        t = self._begin()
        try:
            return int(lib.qk_service_count(t))
        finally:
            self._end()

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self._index(name)
        except _errors.UnknownServiceError:
            return False
        return True

    @property
    def services(self) -> Tuple[str, ...]:
        """The registered services' names, by index."""
        return tuple(self.snapshot())

    # -- counting -------------------------------------------------------------------------

    def record(self, service: Service, n: int = 1) -> Usage:
        """Counts ``n`` calls already made, in every window; never refuses for the limit."""
        idx = self._names.get(service)
        if idx is None:
            idx = self._index(service)
        out = ffi.new("qk_usage *")
        t = self._begin()
        try:
            rc = lib.qk_record(t, idx, n, out)
        except OverflowError:  # n outside uint64: refused before any C call
            rc = _BAD_NUMBER
        finally:
            self._end()
        if rc:
            raise _failure(rc, f"n={n}")
        return _usage(out)

    def try_consume(self, service: Service, n: int = 1, priority: bool = False) -> Usage:
        """Atomically checks every window and counts ``n`` in all of them, or in none.

        Returns the usage after counting. Raises :class:`QuotaExceeded` (with ``.usage``:
        ``tripped`` names the full window, ``reset_at`` when it resets) when it would exceed a
        limit; without ``priority`` the service's reserve is off limits too.
        """
        idx = self._names.get(service)
        if idx is None:
            idx = self._index(service)
        out = ffi.new("qk_usage *")
        t = self._begin()
        try:
            rc = lib.qk_try_consume(t, idx, n, lib.QK_PRIORITY if priority else 0, out)
        except OverflowError:
            rc = _BAD_NUMBER
        finally:
            self._end()
        if rc:
            if rc == lib.QK_ELIMIT:  # an answer: qk_errmsg() is left alone, say it here
                usage = _usage(out)
                w = usage.windows[usage.tripped] if usage.tripped is not None else None
                what = (f"window {usage.tripped} ({w.period.name.lower()}, {w.used} of "
                        f"{w.limit})" if w is not None else "a window")
                raise QuotaExceeded(f"the quota would be exceeded: '{usage.service}' {what} "
                                    f"has no room for {n}", rc, usage=usage)
            raise _failure(rc, f"n={n}")
        return _usage(out)

    def refund(self, service: Service, n: int = 1) -> None:
        """Gives back ``n`` calls that never reached the provider (a count stops at 0)."""
        idx = self._names.get(service)
        if idx is None:
            idx = self._index(service)
        t = self._begin()
        try:
            rc = lib.qk_refund(t, idx, n)
        except OverflowError:
            rc = _BAD_NUMBER
        finally:
            self._end()
        if rc:
            raise _failure(rc, f"n={n}")

    def peek(self, service: Service) -> Usage:
        """The service's current usage."""
        idx = self._names.get(service)
        if idx is None:
            idx = self._index(service)
        out = ffi.new("qk_usage *")
        t = self._begin()
        try:
            rc = lib.qk_peek(t, idx, out)
        finally:
            self._end()
        if rc:
            raise _error(rc)
        return _usage(out)

    def window(self, service: Service, window: int) -> Window:
        """Window ``window`` of the service as the tracker counts it (qk_window_get): its
        period, limit, every, offset_ms, rolling and tz."""
        idx = self._index(service)
        out = ffi.new("qk_window_def *")
        t = self._begin()
        try:
            rc = lib.qk_window_get(t, idx, window, out)
            tz = ffi.string(out.tz).decode() if rc == 0 and out.tz != ffi.NULL else None
        except OverflowError:
            rc = _BAD_NUMBER
        finally:
            self._end()
        if rc:
            raise _failure(rc, f"window={window}")
        return Window(_period(out.period), out.limit, out.every, out.offset_ms,
                      bool(out.flags & lib.QK_WINDOW_ROLLING), tz)

    def set_used(self, service: Service, window: int, used: int) -> None:
        """Sets a current window's count, e.g. to the provider's own figure."""
        idx = self._index(service)
        t = self._begin()
        try:
            rc = lib.qk_set_used(t, idx, window, used)
        except OverflowError:
            rc = _BAD_NUMBER
        finally:
            self._end()
        if rc:
            raise _failure(rc, f"window={window}, used={used}")

    def reset(self, service: Service) -> None:
        """Zeroes every current window of one service."""
        idx = self._index(service)
        t = self._begin()
        try:
            rc = lib.qk_reset(t, idx)
        finally:
            self._end()
        if rc:
            raise _error(rc)

    def reset_all(self) -> None:
        """Zeroes every current window of every service, atomically."""
        t = self._begin()
        try:
            rc = lib.qk_reset_all(t)
        finally:
            self._end()
        if rc:
            raise _error(rc)

    def snapshot(self) -> Dict[str, Usage]:
        """Every service's usage as one consistent cut (no call is half-seen), by name in
        index order."""
        t = self._begin()
        try:
            cap = int(lib.qk_service_count(t)) + 4
            count = ffi.new("size_t *")
            while True:
                buf = ffi.new("qk_usage[]", cap)
                rc = lib.qk_snapshot(t, buf, cap, count)
                if rc == lib.QK_ERANGE and count[0] > cap:  # services were added meanwhile
                    cap = int(count[0]) + 4
                    continue
                if rc:
                    raise _error(rc)
                break
        finally:
            self._end()
        usages = (_usage(buf + i) for i in range(count[0]))
        return {u.service: u for u in usages}

    def flush(self) -> None:
        """Writes a state file's pages to disk (msync); a no-op for a private tracker."""
        t = self._begin()
        try:
            rc = lib.qk_tracker_flush(t)
        finally:
            self._end()
        if rc:
            raise _error(rc)

    # -- the shared store (docs/store.md) -------------------------------------------------

    def store_sync(self) -> None:
        """Sends every service's counts to the store and gives back the lease this host holds
        but has not used (call it before a short-lived process or a Lambda handler returns).
        Returns once the store has them; blocks at most ``store_timeout_ms`` (the GIL is
        released meanwhile).

        Raises :class:`InvalidArgumentError` (the tracker has no store),
        :class:`StoreUnavailableError` (the store did not answer in time; nothing is lost: the
        counts stay here and go with the next sync), :class:`StoreError` (the store answered
        with an error, named in the message; the other services were still synced),
        :class:`OutOfMemoryError`.
        """
        t = self._begin()
        try:
            rc = lib.qk_store_sync(t)
        finally:
            self._end()
        if rc:
            raise _error(rc, store=True)

    def store_status(self) -> StoreStatus:
        """This host's view of the store: degraded or not, operation counts, the last error,
        the clock offset, the host id and per service and window the lease held, the use not
        yet synced, the fleet's use and limit and the overdraft. Makes no store call.

        Raises :class:`InvalidArgumentError` (the tracker has no store).
        """
        info = ffi.new("qk_store_info *")
        t = self._begin()
        try:
            cap = int(lib.qk_service_count(t)) + 4
            while True:
                arr = ffi.new("qk_store_service_info[]", cap)
                info.version = lib.QK_STORE_INFO_VERSION
                info.services = arr
                info.cap = cap
                rc = lib.qk_store_status(t, info)
                if rc == 0 and info.count > cap:  # services were added meanwhile
                    cap = int(info.count) + 4
                    continue
                break
        finally:
            self._end()
        if rc:
            raise _error(rc, store=True)
        names = self.services  # read after the status: it names every index the status has
        services: Dict[str, StoreServiceStatus] = {}
        for i in range(info.count):
            si = arr[i]
            wins = tuple(
                StoreWindowStatus(_period(w.period), w.window_start_ms, w.held, w.unsynced,
                                  w.fleet_used, w.fleet_limit, w.overdraft)
                for w in (si.windows[j] for j in range(si.n_windows)))
            idx = int(si.service)
            name = names[idx] if idx < len(names) else str(idx)
            services[name] = StoreServiceStatus(name, idx, wins)
        last = ffi.string(info.last_error).decode("utf-8", "replace")
        return StoreStatus(bool(info.degraded), info.consecutive_failures,
                           info.consecutive_successes, info.syncs, info.failures,
                           info.clock_offset_ms, ffi.string(info.host_id).decode(),
                           last or None, services)

    def __repr__(self) -> str:
        where = f"path={self._path!r}" if self._path else "private"
        if self._store is not None:
            where += f" store={self._store!r}"  # redacted: no password
        state = "closed" if self._t is None else where
        return f"<quotakeeper.Tracker {state}>"


def store_init(url: str, timeout_ms: int = 0) -> bool:
    """Makes what the store at ``url`` needs before trackers use it, once, as an operator would
    (``qkctl store init``); a tracker never creates anything. DynamoDB: creates the table and
    waits until it is ACTIVE, or finds it there with quotakeeper's key. Redis: nothing to
    make; checks that the server answers with these credentials.

    Returns True when something was made, False when it was already there. ``timeout_ms``: 0
    means 30 s. Raises :class:`InvalidArgumentError` (a malformed URL, a scheme this build
    lacks, a negative timeout, a DynamoDB table of that name with another key),
    :class:`StoreUnavailableError` (no answer in time, or the new table was not ACTIVE in
    time: call again), :class:`StoreError` (the store answered with an error),
    :class:`OutOfMemoryError`. No message holds the URL's password.
    """
    u = ffi.new("char[]", _c_string(url, "store URL"))
    created = ffi.new("int *")
    try:
        rc = lib.qk_store_init(created, u, timeout_ms)
    except (OverflowError, TypeError):  # not an int64: refused before any C call
        rc = _BAD_NUMBER
    finally:
        ffi.memmove(u, b"\0" * len(u), len(u))  # the binding's copy of the password
    if rc is _BAD_NUMBER:
        raise _failure(rc, f"timeout_ms={timeout_ms!r}")
    if rc:
        raise _error(rc, store=True)
    return bool(created[0])


def _c_string(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    b = value.encode("utf-8")
    if b"\0" in b:
        raise _py_error(InvalidArgumentError, f"invalid argument: {what} contains a NUL byte")
    return b
