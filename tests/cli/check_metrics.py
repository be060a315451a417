#!/usr/bin/python3
"""Checks a Prometheus text exposition on stdin, as `promtool check metrics` would, without a
Prometheus server installed: Debian's python3-prometheus-client parses it (a malformed line is an
error), and the lint rules the cli tests relied on are applied here. Prints each problem and
exits 1 when there is any; prints nothing and exits 0 otherwise."""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


def problems(text):
    declared = {"HELP": set(), "TYPE": set()}
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+)", line)
        if m:
            if m.group(2) in declared[m.group(1)]:
                yield f"{m.group(2)}: second # {m.group(1)} line"
            declared[m.group(1)].add(m.group(2))
    if not text.endswith("\n"):
        yield "the exposition does not end with a newline"
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own words say which line
        yield f"does not parse: {e}"
        return
    for fam in families:
        if not NAME.match(fam.name):
            yield f"{fam.name}: not a valid metric name"
        if fam.name not in declared["HELP"]:
            yield f"{fam.name}: no # HELP line"
        if fam.name not in declared["TYPE"]:
            yield f"{fam.name}: no # TYPE line"
        if fam.type == "counter" and not fam.name.endswith("_total"):
            yield f"{fam.name}: a counter's name should end in _total"
        seen = set()
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                yield f"{s.name}{s.labels}: the same series twice"
            seen.add(key)


def main():
    found = list(problems(sys.stdin.read()))
    for p in found:
        print(p)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
