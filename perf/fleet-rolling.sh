#!/usr/bin/env bash
# Store operations per consume for rolling windows in the fleet (perf/fleet_rolling.c; issue 22;
# docs/perf/README.md, "Rolling windows in the fleet"): builds qk_fleet_rolling, runs it on
# Redis and on DynamoDB (dynalite) for rolling windows of 1 s, 1 min and 1 h with 4 and 64 hosts,
# the fleet demanding 100 calls a second in all (the limit's rate: L = 100 per s, 6,000 per min,
# 360,000 per h), 10 s for the second and 36 s for the others, and writes DOCDIR/fleet-rolling.csv,
# the chart DOCDIR/fleet-rolling.png (gnuplot, when there is one) and the table as Markdown on
# stdout. About 6 minutes on 2 cores.
#
#   perf/fleet-rolling.sh [DOCDIR]        default docs/perf
#   perf/fleet-rolling.sh --smoke         1 s and 1 min windows, 4 hosts, 2 s each, on Redis
#                                         only; checks the CSV and writes nothing (about 5 s)
#   perf/fleet-rolling.sh --smoke-bin BIN the same with that binary (perf/smoke.sh, ctest)
#   perf/fleet-rolling.sh --table CSV     the Markdown table of a CSV written before
#
# QK_FLEET_ROLLING_BUILD_DIR picks the build folder (default build/qk-perf, perf/run.sh's; made
# by perf/build-one.sh when missing), QK_FLEET_ROLLING_BIN a binary built already (then nothing
# is built). QK_FLEET_ROLLING_ARGS adds to every run's arguments (e.g. "--long-s 60").
#
# Every run is bounded (timeout: SIGTERM, which the program turns into an orderly stop of its
# hosts and its server; SIGKILL 10 s later, and the server dies with it: PR_SET_PDEATHSIG).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
doc=$root/docs/perf
mode=full
case "${1:-}" in
--smoke) mode=smoke ;;
--smoke-bin) [ $# -eq 2 ] || { echo "usage: perf/fleet-rolling.sh --smoke-bin BIN" >&2; exit 2; }
  mode=smoke QK_FLEET_ROLLING_BIN=$2 ;;
--table) [ $# -eq 2 ] || { echo "usage: perf/fleet-rolling.sh --table CSV" >&2; exit 2; }
  mode=table ;;
"") ;;
*) doc=$1 ;;
esac

# The CSV as a Markdown table: W in words, the counts, the two ratios.
table() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    NR == 2 { print "| store | W | hosts | L | D (s) | granted | refused | unavailable | store ops | failures | server ops | ops per grant | grants / (L·D/W) |"
              print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" }
    { w = $c["window_s"]; w = w == 1 ? "1 s" : w == 60 ? "1 min" : w == 3600 ? "1 h" : w " s"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.1f%% |\n", $c["store"], w,
        $c["hosts"], $c["limit"], $c["seconds"], $c["granted"], $c["refused"], $c["unavailable"],
        $c["store_ops"], $c["store_failures"], $c["server_ops"], $c["ops_per_grant"],
        100 * $c["share_of_fair"] }' "$1"
}
if [ "$mode" = table ]; then
  table "$2"
  exit 0
fi

bin=${QK_FLEET_ROLLING_BIN:-}
if [ -z "$bin" ]; then
  . "$root/perf/build-one.sh"
  echo "fleet-rolling.sh: building qk_fleet_rolling in ${QK_FLEET_ROLLING_BUILD_DIR:-build/qk-perf}" >&2
  perf_build_one "${QK_FLEET_ROLLING_BUILD_DIR:-$root/build/qk-perf}" qk_fleet_rolling
  bin=$perf_bin
fi
[ -x "$bin" ] || { echo "fleet-rolling.sh: no qk_fleet_rolling at $bin" >&2; exit 2; }

tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
# One run, bounded: SIGTERM at the limit, SIGKILL 10 s later. Extra arguments are not quoted on
# purpose (QK_FLEET_ROLLING_ARGS is a list).
run() {
  local limit=$1 out=$2
  shift 2
  # shellcheck disable=SC2086
  set -- "$@" ${QK_FLEET_ROLLING_ARGS:-}
  echo "fleet-rolling.sh: $bin $*" >&2
  timeout -k 10 "$limit" "$bin" "$@" > "$out"
}

# Every row has the header's field count, and numbers after the store's name.
check_csv() {
  awk -F, -v f="$1" 'NR == 1 { nf = NF; next }
    { n++
      if (NF != nf) { print "fleet-rolling.sh: " f " line " NR ": " NF " fields, not " nf; bad = 1 }
      for (i = 2; i <= NF; i++) if ($i !~ /^[0-9.]+$/) { print "fleet-rolling.sh: " f " line " NR " field " i ": " $i; bad = 1 } }
    END { if (n == 0) { print "fleet-rolling.sh: " f ": no rows"; bad = 1 }; exit bad }' "$1"
}

if [ "$mode" = smoke ]; then
  run 60 "$tmp/smoke.csv" --store redis --windows 1s,1m --hosts 4 --short-s 2 --long-s 2
  check_csv "$tmp/smoke.csv"
  [ "$(($(wc -l < "$tmp/smoke.csv") - 1))" -eq 2 ] || { echo "fleet-rolling.sh: smoke: not 2 rows" >&2; exit 1; }
  # Something was granted, and the store was asked: the counts are read.
  awk -F, 'NR > 1 && ($7 == 0 || $10 == 0) { print "fleet-rolling.sh: smoke: nothing granted or no store operations: " $0; exit 1 }' "$tmp/smoke.csv"
  echo "fleet-rolling.sh: smoke: ok" >&2
  exit 0
fi

need=(redis-server)
[ -n "${QK_DYNALITE:-}" ] || need+=(--npm "$root/build/node" dynalite@4.0.0)
"$root/scripts/need.sh" "${need[@]}"
mkdir -p "$doc"
echo "fleet-rolling.sh: $(nproc) cores, source $(git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)" >&2
# A run that fails does not stop the other: its rows so far are kept, and the script exits 1.
failed=""
run 300 "$tmp/redis.csv" --store redis || failed="$failed redis"
run 300 "$tmp/dynamodb.csv" --store dynamodb || failed="$failed dynamodb"
for f in "$tmp"/redis.csv "$tmp"/dynamodb.csv; do check_csv "$f" || failed="$failed $(basename "$f")"; done
{ cat "$tmp/redis.csv"; tail -n +2 "$tmp/dynamodb.csv"; } > "$doc/fleet-rolling.csv"
table "$doc/fleet-rolling.csv"

# The chart: store operations per granted consume, one cluster per window and host count, a bar
# per store, on a log scale (the hour's 0.04 and the second's 4 on one axis).
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  { w = $c["window_s"]; w = w == 1 ? "1 s" : w == 60 ? "1 min" : w == 3600 ? "1 h" : w " s"
    k = w ", " $c["hosts"] " hosts"; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    v[k, $c["store"]] = $c["ops_per_grant"] }
  END { for (i = 1; i <= n; i++) { k = order[i]
          printf "\"%s\" %s %s\n", k, ((k, "redis") in v) ? v[k, "redis"] : "NaN",
            ((k, "dynamodb") in v) ? v[k, "dynamodb"] : "NaN" } }' "$doc/fleet-rolling.csv" > "$tmp/chart.dat"
if command -v gnuplot >/dev/null; then
  cat > "$tmp/chart.gp" <<GP
set terminal pngcairo size 900,450 font ",10"
set output "$doc/fleet-rolling.png"
set title "rolling windows in the fleet: store operations per granted consume (demand 100 calls/s)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.01:*]
set ylabel "store operations per granted consume"
set grid ytics
set key left top
plot "$tmp/chart.dat" using 2:xtic(1) title "redis", "" using 3 title "dynamodb (dynalite)"
GP
  gnuplot "$tmp/chart.gp"
else
  echo "fleet-rolling.sh: no gnuplot, no chart" >&2
fi
echo "fleet-rolling.sh: wrote $doc/fleet-rolling.csv, $doc/fleet-rolling.png" >&2
[ -z "$failed" ] || { echo "fleet-rolling.sh: these runs failed (their rows so far are in the CSV):$failed" >&2; exit 1; }
