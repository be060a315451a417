"""Every exception path: each QK_E* code arrives as its own class, named after
qk_err_name(), with the library's message, and nothing is changed."""

import os
import subprocess
import sys

import pytest

import quotakeeper
from quotakeeper import (CorruptStateFileError, InvalidArgumentError, OutOfMemoryError,
                         OutOfRangeError, QuotaExceeded, QuotaKeeperError, ReadOnlyError,
                         ServiceExistsError, StateFileError, StoreUnavailableError,
                         TrackerClosedError, TrackerFullError, Tracker, UnknownServiceError)
from quotakeeper import _core, errors
from quotakeeper._native import ffi, lib

S = {"name": "s", "windows": [("day", 10)]}


def test_every_code_in_the_table_has_its_class():
    expected = {
        "QK_EINVAL": InvalidArgumentError, "QK_ENOENT": UnknownServiceError,
        "QK_EEXIST": ServiceExistsError, "QK_ENOMEM": OutOfMemoryError,
        "QK_ELIMIT": QuotaExceeded, "QK_EFULL": TrackerFullError, "QK_ERANGE": OutOfRangeError,
        "QK_EIO": StateFileError, "QK_ECORRUPT": CorruptStateFileError,
        "QK_EUNAVAIL": StoreUnavailableError, "QK_EREADONLY": ReadOnlyError,
    }
    seen = {}
    for code, cls in _core._ERROR_CLASSES.items():
        name = ffi.string(lib.qk_err_name(code)).decode()
        assert cls.name == name
        seen[name] = cls
        err = _core._error(code, "m")
        assert type(err) is cls and err.code == code and err.name == name
        assert str(err) == f"{name}: m"
    for name, cls in expected.items():
        assert seen[name] is cls


def test_a_code_this_binding_does_not_know_gets_a_class_named_after_it():
    cls = errors.class_for("QK_ESOMETHINGNEW")
    assert issubclass(cls, QuotaKeeperError) and cls.__name__ == "QK_ESOMETHINGNEW"
    assert errors.class_for("QK_ESOMETHINGNEW") is cls


def test_einval():
    with Tracker([S]) as t:
        with pytest.raises(InvalidArgumentError) as e:
            t.record("s", 0)
        assert e.value.code == lib.QK_EINVAL and "invalid argument" in e.value.message
        assert isinstance(e.value, ValueError)
        with pytest.raises(InvalidArgumentError):
            t.try_consume("s", -1)
        with pytest.raises(InvalidArgumentError):
            t.set_used("s", 3, 1)  # one window only
        with pytest.raises(InvalidArgumentError, match="character outside"):
            t.add_service({"name": "a b", "windows": [("day", 1)]})
        with pytest.raises(InvalidArgumentError):
            t.add_service({"name": "nowin", "windows": []})
        with pytest.raises(InvalidArgumentError, match="at most 4"):
            t.add_service({"name": "five", "windows": [("day", 1)] * 5})
        with pytest.raises(InvalidArgumentError, match="NUL"):
            t.add_service({"name": "a\0b", "windows": [("day", 1)]})
        with pytest.raises(InvalidArgumentError):
            t.add_service({"name": "neg", "windows": [("day", -1)]})
        assert t.peek("s").used == 0 and len(t) == 1  # nothing changed
    with pytest.raises(InvalidArgumentError):
        Tracker([S, {"name": "t", "windows": [("day", 1)]}], capacity=1)
    with pytest.raises(InvalidArgumentError):
        Tracker(store="not a url")
    with pytest.raises(ValueError, match="unknown period"):
        Tracker([{"name": "x", "windows": [("fortnight", 1)]}])


def test_enoent():
    with Tracker([S]) as t:
        with pytest.raises(UnknownServiceError, match="zz") as e:
            t.record("zz")
        assert e.value.code == lib.QK_ENOENT and isinstance(e.value, LookupError)
        with pytest.raises(UnknownServiceError):
            t.peek(7)
        with pytest.raises(UnknownServiceError):
            t.peek(-1)
        assert "zz" not in t and "s" in t


def test_eexist():
    with pytest.raises(ServiceExistsError):
        Tracker([S, S])
    with Tracker([S], capacity=4) as t:
        with pytest.raises(ServiceExistsError):
            t.add_service(S)
        assert len(t) == 1


def test_elimit_carries_the_usage():
    with Tracker([{"name": "s", "windows": [("minute", 100), ("day", 3)], "reserve": 1}]) as t:
        t.try_consume("s", 2)
        with pytest.raises(QuotaExceeded) as e:
            t.try_consume("s")  # the last call is the reserve
        u = e.value.usage
        assert e.value.code == lib.QK_ELIMIT and e.value.name == "QK_ELIMIT"
        assert u.tripped == 1 and u.remaining == 1 and u.windows[1].used == 2
        assert u.reset_at == u.windows[1].reset_at and u.reset_at.tzinfo is not None
        assert "window 1 (day, 2 of 3)" in str(e.value)
        assert t.try_consume("s", priority=True).windows[1].used == 3
        assert t.peek("s").used == 3  # the refused calls counted nothing


def test_efull():
    with Tracker([S], capacity=1) as t:
        with pytest.raises(TrackerFullError):
            t.add_service({"name": "t", "windows": [("day", 1)]})


def test_erange():
    with Tracker([{"name": "s", "windows": [("forever", 2**64 - 1)]}]) as t:
        t.set_used("s", 0, 2**64 - 1)
        with pytest.raises(OutOfRangeError):
            t.record("s")
        assert t.peek("s").used == 2**64 - 1


def test_eio(tmp_path):
    with pytest.raises(StateFileError) as e:
        Tracker([S], path=str(tmp_path / "missing-dir" / "f.qkstate"))
    assert isinstance(e.value, OSError) and e.value.code == lib.QK_EIO
    with pytest.raises(StateFileError):
        Tracker([S], path=str(tmp_path))  # a directory
    target = tmp_path / "real.qkstate"
    Tracker([S], path=str(target)).close()
    link = tmp_path / "link.qkstate"
    link.symlink_to(target)
    with pytest.raises(StateFileError, match="symbolic link|ELOOP|link"):
        Tracker([S], path=str(link))
    with pytest.raises(StateFileError):
        Tracker.open_readonly(str(tmp_path / "nothing.qkstate"))


def test_ecorrupt_leaves_the_file_untouched(tmp_path):
    p = tmp_path / "foreign.qkstate"
    p.write_bytes(b"this is someone else's file" * 100)
    before = p.read_bytes()
    with pytest.raises(CorruptStateFileError):
        Tracker([S], path=str(p))
    assert p.read_bytes() == before


def test_ereadonly(state_path):
    with Tracker([S], path=state_path) as t:
        t.record("s", 2)
    with Tracker.open_readonly(state_path) as ro:
        for call in (lambda: ro.record("s"), lambda: ro.try_consume("s"),
                     lambda: ro.refund("s"), lambda: ro.set_used("s", 0, 1),
                     lambda: ro.reset("s"), ro.reset_all,
                     lambda: ro.add_service({"name": "n", "windows": [("day", 1)]})):
            with pytest.raises(ReadOnlyError):
                call()
        assert ro.peek("s").used == 2
    with pytest.raises(InvalidArgumentError):
        Tracker([S], path=state_path, readonly=True)  # services with a read-only open


def test_enomem_when_the_address_space_is_full():
    """A tracker for 2^20 services needs hundreds of MB; under a 256 MB address-space limit
    the allocation fails and the library says QK_ENOMEM (a child process, so the limit stays
    there)."""
    code = (
        "import resource, quotakeeper\n"
        "resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))\n"
        "try:\n"
        "    quotakeeper.Tracker([{'name': 's', 'windows': [('day', 1)]}], capacity=1 << 20)\n"
        "except quotakeeper.OutOfMemoryError as e:\n"
        "    assert isinstance(e, MemoryError) and e.code == -4, e\n"
        "    print('ENOMEM', e.name)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ENOMEM QK_ENOMEM"


def test_eunavail_and_a_store_eio_are_mapped():
    """test_store.py raises both from a real store that is down or refuses; here the mapping:
    QK_EIO from a store call is StoreError, still a StateFileError (and an OSError)."""
    err = _core._error(lib.QK_EUNAVAIL, "store down")
    assert isinstance(err, StoreUnavailableError) and err.name == "QK_EUNAVAIL"
    err = _core._error(lib.QK_EIO, "store said no", store=True)
    assert type(err) is quotakeeper.StoreError and err.name == "QK_EIO"
    assert isinstance(err, StateFileError) and isinstance(err, OSError)
    assert type(_core._error(lib.QK_EIO, "file")) is StateFileError


def test_closed_tracker():
    t = Tracker([S])
    t.close()
    t.close()  # idempotent
    assert t.closed
    with pytest.raises(TrackerClosedError):
        t.record("s")
    with pytest.raises(TrackerClosedError):
        t.snapshot()


def test_import_refuses_another_major_version():
    _core._check_version(0x000200, "0.2.0")
    _core._check_version(0x000307, "0.3.7")
    with pytest.raises(ImportError, match="major 1"):
        _core._check_version(0x010000, "1.0.0")
    with pytest.raises(ImportError, match="0.2.0 or later"):
        _core._check_version(0x000100, "0.1.0")
    assert quotakeeper.version() >> 16 == quotakeeper.BINDING_MAJOR
