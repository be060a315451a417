#!/bin/sh
# ctest perf.smoke: every strategy through its validators and every workload for a moment.
# Asserts only that nothing fails validation and that the CSVs parse (every figure computed);
# never a timing.
# Usage: smoke.sh path/to/qk_perf
set -eu
bin=$1
out=$(mktemp) && trap 'rm -f "$out" "$out.list" "$out.figures"' EXIT
"$bin" --list > "$out.list"
"$bin" --smoke --figures "$out.figures" > "$out"
awk -F, -v listfile="$out.list" '
BEGIN {
    while ((getline line < listfile) > 0) { split(line, f, ","); want[f[1]] = 1; n_want++ }
    split("disjoint hot mix consume snapshot oversubscribed check-totals check-limit check-cut", names, " ")
    for (i in names) workloads[names[i]] = 1
}
NR == 1 {
    header = "strategy,workload,services,threads,snap_rate,rep,ops,seconds,ops_per_s,ns_per_op," \
             "cpu_ns_per_op,p50_ns,p99_ns,snaps,snap_per_s,snap_p50_ns,snap_p99_ns," \
             "lost_updates,limit_violations,torn_snapshots,refused,cores_used,phase,verdict"
    if ($0 != header) { print "smoke: unexpected header: " $0; bad = 1 }
    nf = NF; next
}
{
    if (NF != nf) { print "smoke: line " NR " has " NF " fields, not " nf; bad = 1; next }
    for (i = 3; i < NF - 1; i++)
        if (i != 5 && $i !~ /^[0-9]+(\.[0-9]+)?$/) { print "smoke: line " NR " field " i " is not a number: " $i; bad = 1 }
    if ($(NF - 1) !~ /^(check|fig|grid)$/) { print "smoke: line " NR ": bad phase " $(NF - 1); bad = 1 }
    if ($5 !~ /^([0-9]+|max)$/) { print "smoke: line " NR ": bad snap_rate " $5; bad = 1 }
    if (!($1 in want)) { print "smoke: line " NR ": unknown strategy " $1; bad = 1 }
    if (!($2 in workloads)) { print "smoke: line " NR ": unknown workload " $2; bad = 1 }
    if ($NF != "ok" && $NF != "lossy" && $NF != "torn") { print "smoke: line " NR ": verdict " $NF; bad = 1 }
    if ($2 !~ /^check-/ && $7 == 0) { print "smoke: line " NR ": no operation ran"; bad = 1 }
    seen[$1 SUBSEP $2] = 1
}
END {
    for (s in want) for (w in workloads)
        if (!((s SUBSEP w) in seen)) { print "smoke: no row for " s " in " w; bad = 1 }
    if (NR < 2) { print "smoke: no rows"; bad = 1 }
    if (!bad) print "smoke: " NR - 1 " rows, " n_want " strategies, every workload: ok"
    exit bad
}' "$out"
# Every figure of the table measured, its verdict one of the known ones. The figure's text is
# the last column and may hold commas, so only the columns before it are checked.
awk -F, '
NR == 1 { for (i = 1; i <= NF; i++) C[$i] = i; next }
{
    n++
    if ($C["holds"] !~ /^(yes|no|reported|n\/a: too few cores)$/) { print "smoke: figure line " NR ": holds " $C["holds"]; bad = 1 }
    if ($C["value"] !~ /^-?[0-9.e+-]+$/) { print "smoke: figure line " NR " not measured: " $0; bad = 1 }
}
END {
    if (n == 0) { print "smoke: no figures"; bad = 1 }
    if (!bad) print "smoke: " n " figures, every one measured: ok"
    exit bad
}' "$out.figures"
