#!/usr/bin/python3
"""One client holding many slow connections to an HTTP server (the cli_serve_slow case).

    slow_client.py PORT COUNT SOURCE SECONDS

Opens COUNT connections to 127.0.0.1:PORT from the local address SOURCE (another loopback
address, 127.0.0.2, so that the server sees one client other than the scraper), sends each the
start of a request and never its end, then adds one header line to every open connection each
0.5 s and opens again the ones the server closed, for SECONDS at most. Prints "ready OPENED" once
the first round of connections is made. Dies with its parent (PR_SET_PDEATHSIG) and on its own
deadline, so it never outlives the test.
"""
import ctypes
import resource
import signal
import socket
import sys
import time

PR_SET_PDEATHSIG = 1


def main():
    port, count, source, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    def one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(0.5)
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            s.setblocking(False)
            return s
        except OSError:
            s.close()
            return None

    conns = [one() for _ in range(count)]
    print("ready", sum(c is not None for c in conns), flush=True)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        for i, c in enumerate(conns):
            if time.monotonic() >= deadline:
                break
            if c is not None:
                try:
                    c.send(b"X-Slow: 1\r\n")
                    continue
                except OSError:
                    c.close()
            conns[i] = one()
    for c in conns:
        if c is not None:
            c.close()


if __name__ == "__main__":
    main()
