#!/usr/bin/env bash
# Renders a run of perf/run.sh as a report: DOCDIR/README.md (machine, figures against their
# targets, tables, ratios against `global`), DOCDIR/*.png (gnuplot: throughput against threads
# per workload; the lease experiment's, when the run has lease.csv) and DOCDIR/summary.csv +
# figures.csv + lease.csv + machine.txt (the medians, figures and facts behind it).
# Needs bash, awk, sort and gnuplot (Debian: gnuplot-nox); not the harness or its build.
#
#   perf/report.sh OUTDIR DOCDIR      e.g. perf/report.sh perf/out/run1 docs/perf
#                                      or   perf/report.sh /carried/16core docs/perf/epyc-16
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 2; }
in=$1 doc=$2
here=$(cd "$(dirname "$0")" && pwd)
for f in results.csv figures.csv machine.txt strategies.csv; do
  [ -s "$in/$f" ] || { echo "report.sh: $in/$f is missing or empty (run perf/run.sh first)" >&2; exit 2; }
done
command -v gnuplot >/dev/null || { echo "report.sh: gnuplot is needed (apt-get install gnuplot-nox)" >&2; exit 2; }
mkdir -p "$doc"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT

# Per-machine subfolders that already hold a report get linked from this one.
others=""
for d in "$doc"/*/; do
  [ -f "$d/README.md" ] && others="$others $(basename "$d")"
done

# Hand-written findings next to the report get a link from it.
notes=""
[ -f "$doc/hot-path.md" ] && notes=hot-path.md

# The fleet sections and charts (perf/fleet-scale.sh, perf/fleet-rolling.sh: runs of their own)
# are kept as they are.
fleet=$(awk '/^## (Fleet scale|Rolling windows in the fleet)$/ { f = 1; print; next } f && /^## / { f = 0 } f' "$doc/README.md" 2>/dev/null || true)
find "$doc" -maxdepth 1 -name '*.png' ! -name 'fleet-*.png' -delete
lease=""
[ -s "$in/lease.csv" ] && lease="$in/lease.csv"
awk -f "$here/report.awk" -v machine="$in/machine.txt" -v strategies="$in/strategies.csv" -v figures="$in/figures.csv" \
  -v docdir="$doc" -v tmpdir="$tmp" -v others="$others" -v notes="$notes" -v lease="$lease" "$in/results.csv"
gnuplot "$tmp/charts.gp"
# The single-thread figures per build type, when the run has a Release pass (run.sh).
if [ -s "$in/figures-release.csv" ]; then
  {
    echo
    echo "## Single-thread figures per build type"
    echo
    echo "The rows above come from the package's default build ($(sed -n 's/^build_type: //p' "$in/machine.txt"),"
    echo "\`$(sed -n 's/^c_flags: //p' "$in/machine.txt")\`); these were measured in the same session from a"
    echo "Release build (\`$(sed -n 's/^release_c_flags: //p' "$in/machine.txt")\`), each the median of its own paired repetitions."
    echo
    echo "| figure | target | default build | Release |"
    echo "| --- | ---: | ---: | ---: |"
    # The figure's name is the last column and may hold commas.
    awk -F, 'function name(  n, i) { n = $19; for (i = 20; i <= NF; i++) n = n "," $i; return n }
             NR == FNR { if (FNR > 1 && $7 == 1 && $8 == 1) def[name()] = $16; next }
             FNR > 1 && $7 == 1 && $8 == 1 && (name() in def) {
               tgt = $5 == "" ? "reported" : ($4 == "at_most" ? "<= " : ">= ") $5
               printf "| %s | %s | %.3g | %.3g |\n", name(), tgt, def[name()], $16 }' \
      "$in/figures.csv" "$in/figures-release.csv"
  } >> "$doc/README.md"
  cp "$in/figures-release.csv" "$doc/figures-release.csv"
else
  rm -f "$doc/figures-release.csv"
fi
[ -z "$fleet" ] || printf '\n%s\n' "$fleet" >> "$doc/README.md"
cp "$in/machine.txt" "$doc/machine.txt"
cp "$in/figures.csv" "$doc/figures.csv"
if [ -n "$lease" ]; then cp "$lease" "$doc/lease.csv"; else rm -f "$doc/lease.csv"; fi
echo "report.sh: wrote $doc/README.md, $(ls "$doc"/*.png | wc -l) charts, summary.csv, figures.csv, machine.txt" >&2
