"""Real store servers for the binding's tests: redis-server and dynalite, started on a free
loopback port with the flags tests/support/servers.c uses, and stopped by pid.

Every wait is bounded; each child gets PR_SET_PDEATHSIG(SIGKILL), so a test process that dies
leaves no server behind; a server whose port turned out taken is started again elsewhere (as
servers.c does, three attempts). A small RESP client reads what Redis holds, so a test can
compare the tracker's status with the store itself.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from typing import List, Optional

START_TIMEOUT_S = 20.0
STOP_GRACE_S = 5.0
PORT_ATTEMPTS = 3
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    pass


class Server:
    """One server process; ``stop()`` kills it by pid (SIGTERM, then SIGKILL after a grace)."""

    def __init__(self, kind: str, argv_for_port, directory: str, ping,
                 port: Optional[int] = None):
        """Starts it on a free port, or on ``port`` (one attempt: a restart keeps its port)."""
        self.kind = kind
        self.dir = directory
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self._ping = ping
        self._log_path = os.path.join(directory, "server.log")
        last = ""
        for _ in range(1 if port else PORT_ATTEMPTS):
            self.port = port or free_port()
            with open(self._log_path, "ab") as log:
                self.proc = subprocess.Popen(argv_for_port(self.port), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             cwd=directory, preexec_fn=_die_with_parent)
            rc = self._await_answer()
            if rc == 0:
                return
            last = self.log_tail()
            if rc != 1:
                break
        raise ServerError(f"{kind} did not start: {last}")

    def log_tail(self) -> str:
        try:
            with open(self._log_path, "rb") as f:
                return f.read()[-400:].decode("utf-8", "replace").replace("\n", "|")
        except OSError:
            return ""

    def _await_answer(self) -> int:
        """0 once it answers; 1 when the port was taken (try another); -1 otherwise."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.proc = None
                return 1 if ("in use" in tail or "EADDRINUSE" in tail) else -1
            try:
                if self._ping(self.port):
                    return 0
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                return -1
            time.sleep(0.05)

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(STOP_GRACE_S)


# -- Redis ---------------------------------------------------------------------------------


def _encode(args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Reader:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisReplyError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise OSError(f"redis: unexpected reply {line[:40]!r}")


class RedisReplyError(Exception):
    pass


def redis_command(port: int, *args, password: Optional[str] = None, timeout: float = 5.0):
    """One command on a fresh connection (AUTH first when a password is given)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        r = _Reader(s)
        if password is not None:
            s.sendall(_encode(["AUTH", password]))
            r.reply()
        s.sendall(_encode(list(args)))
        return r.reply()


def _redis_ping(password: Optional[str]):
    def ping(port: int) -> bool:
        return redis_command(port, "PING", password=password, timeout=0.5) == "PONG"
    return ping


def redis_binary() -> Optional[str]:
    env = os.environ.get("QK_REDIS_SERVER")
    return env if env else shutil.which("redis-server")


def start_redis(directory: str, password: Optional[str] = None) -> Server:
    binary = redis_binary()
    if binary is None:
        raise ServerError("redis-server is not on PATH and QK_REDIS_SERVER is not set; "
                          "install it: scripts/need.sh redis-server")

    def argv(port: int) -> List[str]:
        a = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--daemonize", "no", "--appendonly", "no"]
        if password is not None:
            a += ["--requirepass", password]
        return a

    return Server("redis-server", argv, directory, _redis_ping(password))


# -- dynalite ------------------------------------------------------------------------------


def dynalite_binary() -> str:
    env = os.environ.get("QK_DYNALITE")
    if env:
        return env
    return os.path.join(SOURCE, "build", "node", "node_modules", ".bin", "dynalite")


def _http_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return s.recv(16).startswith(b"HTTP/1.")


def start_dynalite(directory: str) -> Server:
    binary = dynalite_binary()
    if not os.access(binary, os.X_OK):
        raise ServerError(f"dynalite: {binary} is not there; install it: scripts/need.sh --npm "
                          "DIR dynalite@4.0.0 with DIR the build's QK_NODE_DIR, or set "
                          "QK_DYNALITE")
    if shutil.which("node") is None:
        raise ServerError("dynalite: node is not on PATH; install it: scripts/need.sh nodejs")
    return Server("dynalite", lambda port: [binary, "--port", str(port), "--host", "127.0.0.1"],
                  directory, _http_ping)


class SilentServer:
    """A loopback port that accepts connections (the kernel's backlog) and never answers: a
    store that is down in the way that costs a caller its whole timeout."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()
