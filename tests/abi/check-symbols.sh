#!/usr/bin/env bash
# The shared library exports exactly the committed list: hidden visibility keeps internals
# out, and a new export has to be added to the list on purpose. With the static library as a
# third argument, every global symbol it defines is either on the list or internal (qk__...), so
# no internal name can pass for the API or collide with a future public one.
set -euo pipefail
lib=$1 expected=$2 static=${3:-}
actual=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }' | sort)
if ! diff -u "$expected" <(echo "$actual"); then
  echo "check-symbols: exported symbols differ from $expected" >&2
  exit 1
fi
echo "check-symbols: $(echo "$actual" | wc -l) exported symbols match"
if [ -n "$static" ]; then
  stray=$(nm --defined-only "$static" | awk 'NF == 3 && $2 ~ /^[TDBR]$/ { print $3 }' | sort -u |
    grep -vxF -f "$expected" | grep -v '^qk__' || true)
  if [ -n "$stray" ]; then
    echo "check-symbols: global symbols in $static neither public nor qk__:" >&2
    echo "$stray" >&2
    exit 1
  fi
  echo "check-symbols: every other global symbol of the static library is qk__"
fi
