#!/usr/bin/env bash
# What one qk_try_consume and one qk_record cost on a store tracker with a lease in hand against
# a private tracker (perf/consume_cost.c): instructions per call counted by callgrind (the
# calling thread only; deterministic), then the CPU-time ratio with the two trackers interleaved
# in one thread. Needs valgrind and redis-server.
#
#   perf/consume-cost.sh [BUILD_DIR]     default build/qk-perf (perf/run.sh's build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/qk-perf}
. perf/build-one.sh
perf_build_one "$build" qk_consume_cost
bin=$perf_bin
ops=20000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg" "$bin" --ops "$ops" \
  >/dev/null 2>"$out/valgrind.log" || { cat "$out/valgrind.log" >&2; exit 1; }
# The main thread's file is the first; each measure_<op>_<tracker> runs $ops calls.
callgrind_annotate --inclusive=yes "$out/cg-01" |
  awk -v ops="$ops" '/:measure_[a-z]+_[a-z]+ \[/ {
      gsub(",", "", $1); split($0, f, ":measure_"); split(f[2], g, " ");
      cost[g[1]] = $1 / ops }
    END {
      printf "instructions per call (callgrind, %d calls):\n", ops
      printf "  qk_try_consume: private %.1f, store %.1f (%.3f)\n", cost["consume_private"],
        cost["consume_store"], cost["consume_store"] / cost["consume_private"]
      printf "  qk_record:      private %.1f, store %.1f (%.3f)\n", cost["record_private"],
        cost["record_store"], cost["record_store"] / cost["record_private"] }'
"$bin" --time
