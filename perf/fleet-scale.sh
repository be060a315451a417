#!/usr/bin/env bash
# The fleet-scale runs (perf/fleet_scale.c; docs/perf/README.md, "Fleet scale"): builds
# qk_fleet_scale as Release in its own build folder, runs churn (10,000 short-lived hosts one
# after another on a month window) on Redis and on DynamoDB (dynalite), and width (1,000 live
# hosts on Redis, 100 on dynalite, for 125 s: two minute windows), then writes
# DOCDIR/fleet-churn.csv, DOCDIR/fleet-width.csv and the charts DOCDIR/fleet-churn-redis.png and
# DOCDIR/fleet-churn-dynamodb.png (gnuplot). About 15 minutes on 2 cores, most of it dynalite.
#
#   perf/fleet-scale.sh [DOCDIR]       default docs/perf
#   perf/fleet-scale.sh --smoke        churn 200, width 20 for 5 s, on Redis only; checks the
#                                      CSVs and writes nothing (about 10 s)
#   perf/fleet-scale.sh --smoke-bin BIN    the same with that binary (perf/smoke.sh, ctest)
#
# QK_FLEET_BUILD_DIR picks the build folder (default build/fleet-scale); QK_FLEET_BIN a binary
# built already (then nothing is built). QK_FLEET_CHURN / QK_FLEET_DDB_CHURN set the churn's
# hosts (10000 each), QK_FLEET_DDB_MAX_S the DynamoDB churn's bound in seconds (480: dynalite
# takes tens of ms a request; the run stops there and reports what it did), QK_FLEET_WIDTH_S the
# width runs' length (125 s: a whole minute window is seen by 120 s; shorter runs need none).
#
# Every run is bounded (timeout, and each program's own bounds); qk_fleet_scale starts its
# servers itself and they die with it (tests/support/servers.c: PR_SET_PDEATHSIG, stopped by pid
# at exit), so nothing is left running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
smoke=0
doc=$root/docs/perf
if [ "${1:-}" = --smoke ]; then
  smoke=1
elif [ "${1:-}" = --smoke-bin ] && [ $# -eq 2 ]; then # perf/smoke.sh: the binary ctest built
  smoke=1 QK_FLEET_BIN=$2
elif [ $# -ge 1 ]; then
  doc=$1
fi

bin=${QK_FLEET_BIN:-}
if [ -z "$bin" ]; then
  build=${QK_FLEET_BUILD_DIR:-$root/build/fleet-scale}
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  [ -f "$build/CMakeCache.txt" ] && gen=() # keep the generator the folder was made with
  echo "fleet-scale.sh: building qk_fleet_scale (Release) in $build" >&2
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DQK_BUILD_PERF=ON \
    -DQK_LOCK_CHECKS=OFF -DQK_SANITIZE= -DBUILD_TESTING=OFF -DQK_BUILD_TESTS=OFF \
    -DQK_BUILD_EXAMPLES=OFF -DQK_BUILD_QKCTL=OFF >/dev/null
  cmake --build "$build" --target qk_fleet_scale -j "$(nproc)" >/dev/null
  bin=$build/perf/qk_fleet_scale
fi
[ -x "$bin" ] || { echo "fleet-scale.sh: no qk_fleet_scale at $bin" >&2; exit 2; }

tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
# One run, bounded: SIGTERM at the limit, SIGKILL 10 s later.
run() {
  local limit=$1 out=$2
  shift 2
  echo "fleet-scale.sh: $bin $*" >&2
  timeout -k 10 "$limit" "$bin" "$@" > "$out"
}

# Every row has the header's field count and numbers (or an empty field) after the store's name.
check_csv() {
  awk -F, -v f="$1" 'NR == 1 { nf = NF; next }
    { n++
      if (NF != nf) { print "fleet-scale.sh: " f " line " NR ": " NF " fields, not " nf; bad = 1 }
      for (i = 2; i <= NF; i++) if ($i !~ /^(-?[0-9.]+|yes)?$/) { print "fleet-scale.sh: " f " line " NR " field " i ": " $i; bad = 1 } }
    END { if (n == 0) { print "fleet-scale.sh: " f ": no rows"; bad = 1 }; exit bad }' "$1"
}

if [ "$smoke" = 1 ]; then
  run 60 "$tmp/churn.csv" --churn 200 --block 50 --store redis
  run 60 "$tmp/width.csv" --width 20 --seconds 5 --store redis
  check_csv "$tmp/churn.csv"
  check_csv "$tmp/width.csv"
  awk -F, 'NR > 1 && $NF != "yes" { print "fleet-scale.sh: width: the store did not count every grant"; exit 1 }' "$tmp/width.csv"
  echo "fleet-scale.sh: smoke: $(($(wc -l < "$tmp/churn.csv") - 1)) churn blocks, width: ok" >&2
  exit 0
fi

# What the runs need, installed when missing as the test command does: redis-server, gnuplot and
# dynalite in build/node (the default QK_NODE_DIR the binary was built with; QK_DYNALITE names
# another). A fresh clone has none of build/node.
need=(redis-server gnuplot-nox)
[ -n "${QK_DYNALITE:-}" ] || need+=(--npm "$root/build/node" dynalite@4.0.0)
"$root/scripts/need.sh" "${need[@]}"
mkdir -p "$doc"
echo "fleet-scale.sh: $(nproc) cores, source $(git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)" >&2
# A run that fails (a count that does not add up, a store that refuses) does not stop the others:
# its rows so far are kept, and the script exits 1 at the end naming it.
failed=""
keep() { "$@" || { echo "fleet-scale.sh: FAILED: $(basename "$3" .csv)" >&2; failed="$failed $(basename "$3" .csv)"; }; }
keep run 600 "$tmp/churn-redis.csv" --churn "${QK_FLEET_CHURN:-10000}" --store redis
keep run 600 "$tmp/churn-dynamodb.csv" --churn "${QK_FLEET_DDB_CHURN:-10000}" --store dynamodb \
  --max-seconds "${QK_FLEET_DDB_MAX_S:-480}"
ws=${QK_FLEET_WIDTH_S:-125}
keep run 400 "$tmp/width-redis.csv" --width 1000 --seconds "$ws" --store redis
keep run 400 "$tmp/width-dynamodb.csv" --width 100 --seconds "$ws" --store dynamodb
for f in "$tmp"/*.csv; do check_csv "$f" || failed="$failed $(basename "$f")"; done
{ cat "$tmp/churn-redis.csv"; tail -n +2 "$tmp/churn-dynamodb.csv"; } > "$doc/fleet-churn.csv"
{ cat "$tmp/width-redis.csv"; tail -n +2 "$tmp/width-dynamodb.csv"; } > "$doc/fleet-width.csv"

# Time per host (left axis) and the server's cost (right axis) against hosts seen. The columns
# are named from the header, so a column added to the CSV does not move a chart.
col() { head -n 1 "$doc/fleet-churn.csv" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
hosts=$(col hosts_seen) p50=$(col p50_ms) p90=$(col p90_ms) us=$(col server_us_per_call)
bytes=$(col bytes)
for s in redis dynamodb; do
  grep "^$s," "$doc/fleet-churn.csv" > "$tmp/$s.dat" || true
  if [ "$s" = redis ]; then
    cost="using $hosts:$us axes x1y2 with linespoints title 'server: EVALSHA us per call (right)'"
  else
    cost="using $hosts:(\$$bytes/1024) axes x1y2 with linespoints title 'service item, KiB as JSON (right)'"
  fi
  cat > "$tmp/$s.gp" <<EOF
set terminal pngcairo size 900,500 font ",10"
set output "$doc/fleet-churn-$s.png"
set datafile separator ","
set title "churn on $s: one host after another (open, consume 3, sync, free), month window"
set xlabel "hosts seen"
set ylabel "consume + sync per host, ms"
set y2label "server cost"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key left top
set grid
plot "$tmp/$s.dat" using $hosts:$p50 with linespoints title 'median per block', \
     "$tmp/$s.dat" using $hosts:$p90 with linespoints title 'p90 per block', \
     "$tmp/$s.dat" $cost
EOF
  if [ -s "$tmp/$s.dat" ]; then gnuplot "$tmp/$s.gp"; else echo "fleet-scale.sh: no rows for $s, no chart" >&2; rm -f "$doc/fleet-churn-$s.png"; fi
done
# The figure of merit: the last full block's median over the first's.
awk -F, 'NR > 1 { if (!($1 in first)) first[$1] = $7; if ($4 == 1000 || !($1 in last)) last[$1] = $7; hosts[$1] = $3 }
  END { for (s in first) printf "fleet-scale.sh: churn %s: %d hosts, last / first block median %.2f\n", s, hosts[s], last[s] / first[s] }' \
  "$doc/fleet-churn.csv" >&2
echo "fleet-scale.sh: wrote $doc/fleet-churn.csv, $doc/fleet-width.csv, $doc/fleet-churn-{redis,dynamodb}.png" >&2
[ -z "$failed" ] || { echo "fleet-scale.sh: these runs failed (their rows so far are in the CSVs):$failed" >&2; exit 1; }
