#!/usr/bin/env bash
# The one command behind docs/perf/README.md on a Debian machine: installs what is missing,
# builds qk_perf, runs the full comparison (about 8 minutes on 2 cores) and rewrites docs/perf/.
#
#   perf/make-report.sh [qk_perf options]      default: --full
#
# On a machine without these packages, split it: perf/run.sh there, perf/report.sh here
# (docs/perf/README.md, "Another machine").
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/need.sh build-essential cmake ninja-build pkg-config libhiredis-dev libck-dev gnuplot-nox redis-server \
  libinih-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev \
  --npm build/node dynalite@4.0.0

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--full)
out=perf/out/$(date -u +%Y%m%d-%H%M%S)
perf/run.sh "$out" "${args[@]}"
perf/report.sh "$out" docs/perf
echo "make-report.sh: docs/perf/README.md regenerated from $out" >&2
