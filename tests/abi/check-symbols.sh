#!/usr/bin/env bash
# The shared library exports exactly the committed list: hidden visibility keeps internals
# out, and a new export has to be added to the list on purpose.
set -euo pipefail
lib=$1 expected=$2
actual=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }' | sort)
if ! diff -u "$expected" <(echo "$actual"); then
  echo "check-symbols: exported symbols differ from $expected" >&2
  exit 1
fi
echo "check-symbols: $(echo "$actual" | wc -l) exported symbols match"
