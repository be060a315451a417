#!/bin/sh
# ctest perf.smoke: every strategy through its validators and every workload for a moment.
# Asserts only that nothing fails validation and that the CSVs parse (every figure computed,
# the lease experiment's rows); never a timing. The store strategies make qk_perf start its own
# redis-server (perf/redis_server.h); without one they are left out and this fails, as a store
# test that did not run has proved nothing (tests/run.sh installs redis-server).
# Usage: smoke.sh path/to/qk_perf
set -eu
bin=$1
out=$(mktemp) && trap 'rm -f "$out" "$out.list" "$out.figures" "$out.lease"' EXIT
"$bin" --list > "$out.list"
"$bin" --smoke --figures "$out.figures" --lease "$out.lease" > "$out"
awk -F, -v listfile="$out.list" '
BEGIN {
    # name, snapshot, role, scope, ...: a store strategy runs only in grant (and its checks),
    # which takes the store strategies and the subject (workload.h, workload_takes)
    while ((getline line < listfile) > 0) {
        split(line, f, ","); want[f[1]] = 1; n_want++; store[f[1]] = f[4] == "store"; subject[f[1]] = f[3] == "subject"
    }
    split("disjoint hot mix consume snapshot oversubscribed grant check-totals check-limit check-cut", names, " ")
    for (i in names) workloads[names[i]] = 1
}
function expected(s, w) {
    if (w ~ /^check-/) return 1
    if (w == "grant") return store[s] || subject[s]
    return !store[s]
}
NR == 1 {
    header = "strategy,workload,services,threads,snap_rate,rep,ops,seconds,ops_per_s,ns_per_op," \
             "cpu_ns_per_op,p50_ns,p99_ns,snaps,snap_per_s,snap_p50_ns,snap_p99_ns," \
             "lost_updates,limit_violations,torn_snapshots,refused,cores_used,store_ops,phase,verdict"
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
    else if (!expected($1, $2)) { print "smoke: line " NR ": " $1 " ran in " $2 ", outside its scope"; bad = 1 }
    if ($NF != "ok" && $NF != "lossy" && $NF != "torn") { print "smoke: line " NR ": verdict " $NF; bad = 1 }
    if ($2 !~ /^check-/ && $7 == 0) { print "smoke: line " NR ": no operation ran"; bad = 1 }
    seen[$1 SUBSEP $2] = 1
}
END {
    for (s in want) for (w in workloads)
        if (expected(s, w) && !((s SUBSEP w) in seen)) { print "smoke: no row for " s " in " w; bad = 1 }
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
# The lease experiment: a row per lease size, numbers throughout, and the host's unused lease
# the store's G - U (one host, its last use synced).
awk -F, '
NR == 1 { if ($0 != "lease_max,consumes,seconds,store_ops,store_ops_per_consume,held,store_granted,store_used,unused") { print "smoke: lease header: " $0; bad = 1 }; next }
{
    n++
    for (i = 1; i <= NF; i++) if ($i !~ /^[0-9.e+-]+$/) { print "smoke: lease line " NR " field " i ": " $i; bad = 1 }
    if ($8 != $2) { print "smoke: lease line " NR ": the store saw " $8 " of " $2 " consumes"; bad = 1 }
    if ($6 != $9) { print "smoke: lease line " NR ": the host holds " $6 ", the store says " $9 " unused"; bad = 1 }
}
END {
    if (n == 0) { print "smoke: no lease rows"; bad = 1 }
    if (!bad) print "smoke: " n " lease sizes: ok"
    exit bad
}' "$out.lease"
# The fleet-scale harness for a moment (perf/fleet-scale.sh --smoke, about 8 s: churn 200 and
# width 20 on Redis): its CSVs parse and the store counts every grant. qk_fleet_scale is built
# beside qk_perf.
bash "$(dirname "$0")/fleet-scale.sh" --smoke-bin "$(dirname "$bin")/qk_fleet_scale"
# The rolling-window fleet for a moment (perf/fleet-rolling.sh --smoke, about 5 s: a 1 s and a
# 1 min window, 4 hosts, on Redis): its CSV parses, something is granted and the store is asked.
bash "$(dirname "$0")/fleet-rolling.sh" --smoke-bin "$(dirname "$bin")/qk_fleet_rolling"
