#!/usr/bin/env bash
# check-render.sh PAGE...: each built man page renders with man -l, with no warning from man or
# groff and a NAME section in the output.
set -euo pipefail
command -v man >/dev/null || { echo "check-render: no man (scripts/need.sh man-db)" >&2; exit 1; }
status=0
for page in "$@"; do
    out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>"$page.warnings") || {
        echo "check-render: man -l $page failed" >&2; status=1; }
    if [ -s "$page.warnings" ]; then
        echo "check-render: $page:" >&2
        cat "$page.warnings" >&2
        status=1
    fi
    grep -q '^NAME' <<<"$out" || { echo "check-render: $page has no NAME section" >&2; status=1; }
done
[ $status -eq 0 ] && echo "check-render: $# pages render cleanly"
exit $status
