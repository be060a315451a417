"""The GIL is released while the library works: a thread blocked inside a quotakeeper call
leaves the other threads running Python.

The call that blocks: opening a state file waits for the file's open lock (an OFD lock on byte
0, F_OFD_SETLKW). The test takes that lock itself through another open file description, starts
a thread that opens a Tracker on the file, waits until that thread is blocked in fcntl inside
the C call, runs Python in the main thread meanwhile, then releases the lock. Were the GIL held
across the C call, the main thread could not run at all and the test would hang (ctest's
timeout), whatever the timing."""

import fcntl
import os
import platform
import struct
import threading
import time

import pytest

from quotakeeper import Tracker

FCNTL_SYSCALL = {"x86_64": 72, "aarch64": 25}.get(platform.machine())
S = [{"name": "s", "windows": [("day", 10)]}]


def _ofd_lock(fd, kind):
    # struct flock: l_type, l_whence (short), l_start, l_len (off_t), l_pid (int) + padding
    fl = struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 1, 0)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, fl)


@pytest.mark.skipif(not hasattr(fcntl, "F_OFD_SETLKW"), reason="no OFD locks on this platform")
def test_a_thread_blocked_in_the_library_does_not_hold_the_gil(state_path):
    Tracker(S, path=state_path).close()  # the file exists; opening it takes the open lock
    fd = os.open(state_path, os.O_RDWR)
    _ofd_lock(fd, fcntl.F_WRLCK)
    opened = []
    worker = threading.Thread(target=lambda: opened.append(Tracker(S, path=state_path)))
    worker.start()
    try:
        # Wait until the worker sits in fcntl (the open lock) inside qk_tracker_new.
        sysfile = f"/proc/self/task/{worker.native_id}/syscall"
        deadline = time.monotonic() + 30
        while True:
            with open(sysfile) as f:
                nr = f.read().split()[0]
            if FCNTL_SYSCALL is None or nr == str(FCNTL_SYSCALL):
                break
            assert time.monotonic() < deadline, "the worker never blocked on the open lock"
            time.sleep(0.001)
        # The main thread runs Python while the worker is inside the C call.
        spins = sum(1 for _ in range(200000))
        assert spins == 200000 and worker.is_alive() and not opened
    finally:
        _ofd_lock(fd, fcntl.F_UNLCK)
        os.close(fd)
        worker.join(30)
    assert opened and opened[0].peek("s").used == 0
    opened[0].close()


def test_cffi_calls_release_the_gil_in_the_generated_module():
    """cffi wraps each call in Py_BEGIN/END_ALLOW_THREADS (API mode); the compiled module's
    calls to qk_try_consume go through that path. Checked on the generated source when the
    build left it next to the module (CMake's build tree does)."""
    import quotakeeper._native as native
    base = os.path.dirname(os.path.dirname(os.path.dirname(native.__file__)))
    sources = []
    for root, _, files in os.walk(os.path.join(base, "build")):
        sources += [os.path.join(root, f) for f in files if f.endswith("_native.c")]
    if not sources:
        pytest.skip("the generated _native.c is not kept in this install")
    text = open(sources[0]).read()
    body = text[text.index("_cffi_f_qk_try_consume(PyObject"):]
    body = body[:body.index("\n}\n")]
    assert "Py_BEGIN_ALLOW_THREADS" in body and "Py_END_ALLOW_THREADS" in body
    assert body.index("Py_BEGIN_ALLOW_THREADS") < body.index("qk_try_consume(x0")
