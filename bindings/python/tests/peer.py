"""The Python processes of test_state_file.py: the same command line as peer.c.

    python3 peer.py record|consume PATH THREADS N SERVICE...

Opens the existing state file with no services configured, prints "ready", waits for a line on
stdin, then THREADS threads each do N single records (or try_consumes) on every SERVICE;
``consume`` prints the number granted. Exit 0, or 1 on any unexpected error.
"""

import sys
import threading

from quotakeeper import QuotaExceeded, Tracker


def main(argv):
    mode, path, threads, n, services = argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5:]
    tracker = Tracker(path=path)
    granted = []
    failures = []

    def work():
        mine = 0
        try:
            for _ in range(n):
                for s in services:
                    if mode == "record":
                        tracker.record(s)
                    else:
                        try:
                            tracker.try_consume(s)
                            mine += 1
                        except QuotaExceeded:
                            pass
        except BaseException as exc:
            failures.append(exc)
        granted.append(mine)

    print("ready", flush=True)
    sys.stdin.readline()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if mode == "consume":
        print(sum(granted), flush=True)
    tracker.close()
    if failures:
        print(f"peer.py: {failures[0]!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
