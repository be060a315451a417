#!/bin/sh
# The hot path's instruction budget (ctest checks_hot_path_budget, label budget;
# docs/perf/hot-path.md, "The budget"): runs qk_checks_budget_calls under callgrind, takes each
# measure_<op>_<tracker> function's instructions (inclusive, the calling thread only) per call,
# and the .text size of the optimised shared library, and compares each with its line in the
# budget file. Fails naming the call, its figure and its budget when one is over; prints every
# figure either way. Also fails when the file itself breaks its rules: a budget more than 2 %
# or 5 instructions (.text: 5 %) above the figure written beside it, a call measured without a
# budget line, or a budget line with nothing measured.
#
#   hot_path_budget.sh BUDGET_FILE CALLS_PROGRAM SHARED_LIBRARY VALGRIND CALLGRIND_ANNOTATE SIZE
set -eu
[ $# -eq 6 ] || { echo "usage: $0 budget calls lib valgrind callgrind_annotate size" >&2; exit 2; }
budget=$1 calls=$2 lib=$3 valgrind=$4 annotate=$5 size=$6
ops=20000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$valgrind" --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg" \
  "$calls" --ops "$ops" >"$out/calls.log" 2>"$out/valgrind.log" || {
  echo "FAIL: qk_checks_budget_calls under callgrind exited $?:" >&2
  cat "$out/calls.log" "$out/valgrind.log" >&2
  exit 1
}
# The main thread's file is the first (the store tracker's sync thread has its own).
"$annotate" --inclusive=yes "$out/cg-01" >"$out/annotated"
# "<op> <tracker> <instructions per call>" for each measure_<op>_<tracker> function.
awk -v ops="$ops" '/:measure_[a-z]+_[a-z]+ \[/ {
    n = $1; gsub(",", "", n); split($0, f, ":measure_"); split(f[2], g, " ");
    split(g[1], k, "_"); op = k[1] == "consume" ? "qk_try_consume" : "qk_" k[1];
    printf "%s %s %.1f\n", op, k[2], n / ops }' "$out/annotated" >"$out/figures"
text=$("$size" -A "$lib" | awk '$1 == ".text" { print $2 }')
[ -n "$text" ] || { echo "FAIL: no .text in $size -A $lib" >&2; exit 1; }
echo ".text libquotakeeper.so $text" >>"$out/figures" # the budget's objects, linked shared

# Budget lines: <call> <tracker> <budget> <figure> <where the figure came from...>
awk -v figures="$out/figures" -v file="$budget" '
  BEGIN {
    while ((getline line < figures) > 0) {
      split(line, f, " "); key = f[1] " " f[2]; got[key] = f[3]; order[++n] = key }
  }
  /^#/ || NF == 0 || $1 == "compiler" { next }
  {
    key = $1 " " $2; b = $3 + 0; fig = $4 + 0; seen[key] = 1
    if (!(key in got)) { printf "FAIL: %s (%s:%d) was not measured\n", key, file, FNR; bad = 1; next }
    if (b < fig) { printf "FAIL: %s: budget %d is below its own figure %d (%s:%d)\n", key, b, fig, file, FNR; bad = 1 }
    if ($1 == ".text") {
      if (100 * (b - fig) > 5 * fig) {
        printf "FAIL: %s: budget %d is more than 5 %% above its figure %d (%s:%d)\n", key, b, fig, file, FNR; bad = 1 }
    } else if (b - fig > 5 || 100 * (b - fig) > 2 * fig) {
      printf "FAIL: %s: budget %d is more than 2 %% or 5 instructions above its figure %d (%s:%d)\n", key, b, fig, file, FNR; bad = 1
    }
    unit = $1 == ".text" ? "bytes" : "instructions per call"
    if (got[key] > b) {
      if ($1 == ".text")
        printf "FAIL: .text of %s: %s bytes, over its budget of %d (figure %d, %s:%d)\n", $2, got[key], b, fig, file, FNR
      else
        printf "FAIL: %s on a %s tracker: %s instructions per call, over its budget of %d (figure %d, %s:%d)\n", $1, $2, got[key], b, fig, file, FNR
      bad = 1
    } else {
      printf "ok   %-14s %-17s %9s %s (budget %d, figure %d)\n", $1, $2, got[key], unit, b, fig
      if (got[key] < fig - ($1 == ".text" ? 0 : 0.5))
        printf "     below its figure: lower the figure and the budget (docs/perf/hot-path.md, \"The budget\")\n"
    }
  }
  END {
    for (i = 1; i <= n; i++)
      if (!(order[i] in seen)) { printf "FAIL: %s measured (%s) but has no line in %s\n", order[i], got[order[i]], file; bad = 1 }
    if (bad)
      printf "A change that pays for its instructions updates the figure and the budget in %s, saying why (docs/perf/hot-path.md, \"The budget\").\n", file
    exit bad
  }' "$budget"
