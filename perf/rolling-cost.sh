#!/usr/bin/env bash
# What a record and a consume cost on a one-window rolling service against a fixed window of the
# same length (perf/rolling_cost.c): instructions per call counted by callgrind (the calling
# thread, a rolling second sliding every 20 ms of the run), then the CPU-time ratios for a
# second and a minute with the two trackers interleaved in one thread. Needs valgrind.
#
#   perf/rolling-cost.sh [BUILD_DIR]     default build/qk-perf (perf/run.sh's build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/qk-perf}
. perf/build-one.sh
perf_build_one "$build" qk_rolling_cost
bin=$perf_bin
ops=200000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" --ops "$ops" \
  >/dev/null 2>"$out/valgrind.log" || { cat "$out/valgrind.log" >&2; exit 1; }
callgrind_annotate --inclusive=yes "$out/cg" |
  awk -v ops="$ops" '/:measure_[a-z]+_[a-z]+ \[/ {
      gsub(",", "", $1); split($0, f, ":measure_"); split(f[2], g, " ");
      cost[g[1]] = $1 / ops }
    END {
      printf "instructions per call (callgrind, %d calls, one-window service of a second):\n", ops
      printf "  qk_record:      fixed %.1f, rolling %.1f (%.3f)\n", cost["record_fixed"],
        cost["record_rolling"], cost["record_rolling"] / cost["record_fixed"]
      printf "  qk_try_consume: fixed %.1f, rolling %.1f (%.3f)\n", cost["consume_fixed"],
        cost["consume_rolling"], cost["consume_rolling"] / cost["consume_fixed"] }'
"$bin" --time
