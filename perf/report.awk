# Turns qk_perf's CSVs and run.sh's machine.txt into README.md, gnuplot data and a gnuplot
# script (perf/report.sh drives it). Plain POSIX awk (mawk): no asort, no gensub.
#   awk -f report.awk -v machine=machine.txt -v strategies=strategies.csv -v figures=figures.csv \
#       -v docdir=DIR -v tmpdir=DIR -v others="SUBDIR ..." -v notes=FILE.md [-v lease=lease.csv] \
#       results.csv
# It knows no strategy and no figure: the strategies, their order, roles and chart styles come
# from `qk_perf --list` (strategies.csv), the figures from the harness's table (figures.csv).
# Medians over repetitions everywhere. A ratio of two strategies in the same cell is the median
# of the per-repetition ratios (the strategies ran back to back in each repetition, so a slow
# spell of the machine hits both); a ratio across cells is the ratio of their medians.

function sortnum(a, n,    i, j, v) {
    for (i = 2; i <= n; i++) {
        v = a[i]
        for (j = i - 1; j >= 1 && a[j] > v; j--)
            a[j + 1] = a[j]
        a[j + 1] = v
    }
}
function median(list,    a, n) {
    n = split(list, a, " ")
    if (n == 0)
        return ""
    sortnum(a, n)
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function minof(list,    a, n, i, m) {
    n = split(list, a, " "); m = a[1]
    for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]
    return m
}
function maxof(list,    a, n, i, m) {
    n = split(list, a, " "); m = a[1]
    for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]
    return m
}
function key(st, wl, sv, th, rt) { return st SUBSEP wl SUBSEP sv SUBSEP th SUBSEP rt }
function med(st, wl, sv, th, rt, metric,    k) {
    k = key(st, wl, sv, th, rt)
    return (k SUBSEP metric) in L ? median(L[k, metric]) : ""
}
# Per-repetition ratios of metric between two strategies in one cell: "median min max".
function paired(a, b, wl, sv, th, rt, metric) {
    return paired_keys(key(a, wl, sv, th, rt), key(b, wl, sv, th, rt), metric)
}
function paired_keys(ka, kb, metric,    r, list) {
    list = ""
    for (r = 1; r <= maxrep; r++)
        if ((ka SUBSEP r SUBSEP metric) in R && (kb SUBSEP r SUBSEP metric) in R && R[kb, r, metric] > 0)
            list = list " " R[ka, r, metric] / R[kb, r, metric]
    if (list == "")
        return ""
    return median(list) " " minof(list) " " maxof(list)
}
function F(wl) { return ("fig:" wl) in FIGWL ? "fig:" wl : wl }
function fmt(x) {
    if (x == "") return "n/a"
    if (x >= 100) return sprintf("%.0f", x)
    if (x >= 10) return sprintf("%.1f", x)
    return sprintf("%.2f", x)
}
function mops(x) { return x == "" ? "" : x / 1e6 }
function ns(x) {
    if (x == "") return "n/a"
    if (x >= 1e6) return sprintf("%.1f ms", x / 1e6)
    if (x >= 1e4) return sprintf("%.0f µs", x / 1e3)
    if (x >= 1e3) return sprintf("%.1f µs", x / 1e3)
    return sprintf("%.0f ns", x)
}
function ratio_cell(p,    a) {
    if (p == "") return "n/a"
    split(p, a, " ")
    return sprintf("%.2f (%.2f–%.2f)", a[1], a[2], a[3])
}
# Thread counts seen for a workload and service count, ascending.
function thread_list(wl, sv,    t, n, a, i, s) {
    n = 0
    for (t in TH) { split(t, a, SUBSEP); if (a[1] == wl && a[2] == sv) tl[++n] = a[3] + 0 }
    sortnum(tl, n); s = ""
    for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") tl[i]
    return s
}
# Whether strategy st has runs in workload wl ("": in any). The store strategies run only in
# grant, and grant only takes them and the subject, so each table shows who ran there.
function present(st, wl) { return wl == "" ? (st in HAVE) : ((wl SUBSEP st) in HAVEW) }
# A table head with one column per strategy present (in workload wl), between the given leading
# and trailing cells, and its alignment row.
function strategy_table_head(lead, tail, lead_align, tail_align, wl,    i) {
    printf "%s", lead > readme
    for (i = 1; i <= nstrat; i++) if (present(ORDER[i], wl)) printf " %s |", ORDER[i] > readme
    print tail > readme
    printf "%s", lead_align > readme
    for (i = 1; i <= nstrat; i++) if (present(ORDER[i], wl)) printf " ---: |" > readme
    print tail_align > readme
}
# The strategies present in wl, in order, space-separated: a chart's columns.
function chart_strategies(wl,    i, l) {
    l = ""
    for (i = 1; i <= nstrat; i++) if (present(ORDER[i], wl)) l = l (l == "" ? "" : " ") ORDER[i]
    return l
}
# A figure's numbers in its metric's unit.
function in_unit(metric, x) {
    if (x == "") return "n/a"
    if (metric == "ops_per_s") return fmt(mops(x))
    if (metric ~ /_ns$/) return ns(x)
    if (metric == "store_ops_per_op") return sprintf("%.2g", x)
    return fmt(x)
}
# "num / den" in the metric's unit, and the cores multi-threaded sides got.
function figure_context(metric, num, den, t, dt, nc, dc,    s, c) {
    if (metric == "cpu_ns_per_op") s = "CPU ns per op: " in_unit(metric, num) " / " in_unit(metric, den)
    else s = in_unit(metric, num) " / " in_unit(metric, den) (metric == "ops_per_s" ? " Mops/s" : "")
    if (metric == "ops_per_s" && t >= 2 && dt >= 2) c = sprintf("; %s threads got %.2f / %.2f cores", t, nc, dc)
    else if (metric == "ops_per_s" && t >= 2) c = sprintf("; %s threads got %.2f cores", t, nc)
    else if (metric == "ops_per_s" && dt >= 2) c = sprintf("; %s threads got %.2f cores", dt, dc)
    return s c
}
# Whether a side of 2+ threads got less than 90 % of the cores it could have used (its thread
# count, at most the cores online): its figure is then indicative only. A strategy that waits for
# a server on every call (one round trip each) leaves the cores idle by design: not judged.
function starved(metric, st, t, got) {
    if (st ~ /per-call|pipelined/) return 0
    return metric == "ops_per_s" && t >= 2 && got < 0.9 * (t < cores ? t : cores)
}
# The figures table, one row per line of figures.csv (the harness's table, computed), in its
# order; the figure's text is the last column and may hold commas.
function figure_rows(    line, ncol, H, n, f, i, name, kind, metric, desc, val, tgt, hold) {
    if ((getline line < figures) <= 0) return
    ncol = split(line, H, ",")
    for (i = 1; i <= ncol; i++) FC[H[i]] = i
    while ((getline line < figures) > 0) {
        split(line, f, ",")
        name = line
        for (i = 1; i < ncol; i++) name = substr(name, index(name, ",") + 1)
        kind = f[FC["kind"]]; metric = f[FC["metric"]]
        desc = name
        if (kind != "value" && f[FC["value"]] != "")
            desc = desc " (" figure_context(metric, f[FC["num_value"]], f[FC["den_value"]], f[FC["threads"]], f[FC["den_threads"]], f[FC["num_cores"]], f[FC["den_cores"]]) ")"
        if (f[FC["value"]] == "") val = "n/a"
        else if (kind == "ratio") val = sprintf("%.2f (%.2f–%.2f)", f[FC["value"]], f[FC["low"]], f[FC["high"]])
        else if (kind == "loss_pct") val = sprintf("%.1f%% (%.1f%% to %.1f%%)", f[FC["value"]], f[FC["low"]], f[FC["high"]])
        else val = in_unit(metric, f[FC["value"]]) " (" in_unit(metric, f[FC["low"]]) "–" in_unit(metric, f[FC["high"]]) ")"
        if (f[FC["direction"]] == "reported") tgt = "reported"
        else tgt = (f[FC["direction"]] == "at_most" ? "≤ " : "≥ ") f[FC["target"]] (kind == "loss_pct" ? "%" : "") (f[FC["min_cores"]] > 1 ? " on " f[FC["min_cores"]] "+ cores" : "")
        hold = f[FC["holds"]]
        if (hold == "yes" || hold == "no") hold = "**" hold "**"
        else if (hold == "reported") hold = "—"
        if (starved(metric, f[FC["numerator"]], f[FC["threads"]], f[FC["num_cores"]]) ||
            starved(metric, f[FC["denominator"]], f[FC["den_threads"]], f[FC["den_cores"]]))
            hold = hold " (indicative)"
        print "| " desc " | " val " | " tgt " | " hold " |" > readme
    }
    close(figures)
}
# The lease experiment (lease.csv, if the run made one): a table, and a chart drawn below.
function lease_section(    line, f, n, i, hdr) {
    NLEASE = 0
    if (lease == "" || (getline line < lease) <= 0) return
    n = split(line, hdr, ",")
    for (i = 1; i <= n; i++) LC[hdr[i]] = i
    print "## Lease left unused at the window's end" > readme
    print "" > readme
    print "One host (a tracker with the store) consumes, one call at a time, on a fresh service whose" > readme
    print "limit no run reaches, with each lease size; then its window \"ends\". What it holds and has not" > readme
    print "used (`qk_store_status`'s `held`, equal to the store's G - U once its last use is synced) is" > readme
    print "what a host that died then would strand until the window ended, and what `qk_tracker_free` or" > readme
    print "`qk_store_sync` gives back; the sync thread tops a lease up before it runs out, so a host keeps" > readme
    print "about a full lease in hand. Store operations per consume are about one per lease. lease_max 0 is" > readme
    print "the adaptive lease (about 10 s of the host's recent rate)." > readme
    print "" > readme
    print "![lease](lease.png)" > readme
    print "" > readme
    print "| lease_max | consumes | store operations | per consume | unused at the end (host) | store G - U |" > readme
    print "| ---: | ---: | ---: | ---: | ---: | ---: |" > readme
    while ((getline line < lease) > 0) {
        split(line, f, ",")
        NLEASE++
        LZ[NLEASE] = f[LC["lease_max"]] + 0; LU[NLEASE] = f[LC["held"]] + 0; LO[NLEASE] = f[LC["store_ops_per_consume"]] + 0
        LN = f[LC["consumes"]]
        printf "| %s | %s | %s | %.3g | %s | %s |\n", (LZ[NLEASE] == 0 ? "adaptive" : LZ[NLEASE]), f[LC["consumes"]], f[LC["store_ops"]], LO[NLEASE], f[LC["held"]], f[LC["unused"]] > readme
    }
    close(lease)
    print "" > readme
}
function machine_row(label, k) { print "| " label " | " (k in M ? M[k] : "unknown") " |" > readme }

BEGIN {
    FS = ","
    # strategies.csv: name, snapshot, role, scope, chart style, locking (which may hold commas)
    nstrat = 0
    while ((getline line < strategies) > 0) {
        n = split(line, f, ",")
        if (n < 6) continue
        ORDER[++nstrat] = f[1]; KIND[f[1]] = f[2]; SCOPE[f[1]] = f[4]; STYLE[f[1]] = f[5]
        LOCKD[f[1]] = substr(line, length(f[1]) + length(f[2]) + length(f[3]) + length(f[4]) + length(f[5]) + 6)
        if (f[3] == "subject") SUBJ = f[1]
        if (f[3] == "baseline") BASE = f[1]
    }
    while ((getline line < machine) > 0) {
        i = index(line, ": ")
        if (i > 0) M[substr(line, 1, i - 1)] = substr(line, i + 2)
    }
    readme = docdir "/README.md"
    gp = tmpdir "/charts.gp"
    maxrep = 0
}
NR == 1 { for (i = 1; i <= NF; i++) C[$i] = i; next }
{
    st = $C["strategy"]; wl = $C["workload"]; sv = $C["services"]; th = $C["threads"]
    rt = $C["snap_rate"]; rep = $C["rep"] + 0
    if ("phase" in C && $C["phase"] == "fig") { wl = "fig:" wl; FIGWL[wl] = 1 }
    HAVE[st] = 1
    HAVEW[$C["workload"], st] = 1
    if (wl ~ /^check-/) {
        CK[st, wl, sv] = 1
        CKV[st, wl, sv] = $C["verdict"]
        CKL[st, wl, sv] = $C["lost_updates"]; CKO[st, wl, sv] = $C["limit_violations"]
        CKT[st, wl, sv] = $C["torn_snapshots"]; CKS[st, wl, sv] = $C["snaps"]
        CKN[st, wl, sv] = $C["ops"]; CHECK_SV[sv] = 1
        if ($C["verdict"] == "FAIL") failed[st] = 1
        next
    }
    k = key(st, wl, sv, th, rt)
    TH[wl, sv, th] = 1; WS[wl, sv] = 1
    if (wl == "snapshot" || wl == "fig:snapshot") SNAPW[th] = 1
    split("ops_per_s cpu_ns_per_op p50_ns p99_ns snap_per_s snap_p50_ns snap_p99_ns cores_used", metrics, " ")
    for (m = 1; m <= 8; m++) {
        if (!(metrics[m] in C)) continue
        L[k, metrics[m]] = L[k, metrics[m]] " " $C[metrics[m]]
        R[k, rep, metrics[m]] = $C[metrics[m]]
    }
    if ($C["ops"] > 0) {
        L[k, "refused_pct"] = L[k, "refused_pct"] " " 100 * $C["refused"] / $C["ops"]
        if (wl != "consume") L[k, "lost_pct"] = L[k, "lost_pct"] " " 100 * $C["lost_updates"] / $C["ops"]
    }
    LOST[k] += $C["lost_updates"]; VIOL[k] += $C["limit_violations"]; TORN[k] += $C["torn_snapshots"]
    if ($C["verdict"] == "FAIL") failed[st] = 1
    if (rep > maxrep) maxrep = rep
    if (wl ~ /^fig:/ && rep > figrep) figrep = rep
    if (wl !~ /^fig:/ && rep > gridrep) gridrep = rep
}
END {
    cores = M["cores_online"] + 0
    if (cores < 1) cores = 1
    # The snapshot figures use the most writers measured (the core count by default).
    W = 0; for (w in SNAPW) if (w + 0 > W) W = w + 0

    print "# quotakeeper performance: " M["cpu_model"] ", " cores " cores" > readme
    print "" > readme
    print "Generated by `perf/report.sh` from one run of `perf/run.sh` (`qk_perf " M["qk_perf_args"] "`)." > readme
    print "Regenerate on a Debian machine like this one with **`perf/make-report.sh`**; the raw" > readme
    print "per-repetition CSV stays in `perf/out/`, the medians behind every table are in" > readme
    print "[`summary.csv`](summary.csv), the figures in [`figures.csv`](figures.csv) and the machine" > readme
    print "facts in [`machine.txt`](machine.txt)." > readme
    print "" > readme
    print "## Machine" > readme
    print "" > readme
    print "| | |" > readme
    print "| --- | --- |" > readme
    machine_row("CPU", "cpu_model")
    print "| Cores | " M["cores_online"] " online (" M["sockets"] " socket(s), " M["cores_per_socket"] " cores / " M["siblings_per_socket"] " threads per socket), virtualised: " M["virtualised"] " |" > readme
    machine_row("Kernel", "kernel")
    print "| glibc | system: " M["glibc_system"] "; in the binary: " M["glibc_in_binary"] " |" > readme
    machine_row("Clocksource", "clocksource")
    print "| Compiler and flags | " M["compiler"] ", `" M["c_flags"] "` (" M["build_type"] "), " M["link"] " |" > readme
    machine_row("Library lock checks", "lock_checks")
    machine_row("Date", "date_utc")
    machine_row("Source", "source_rev")
    print "| Load average before / after | " M["loadavg_before"] " / " M["loadavg_after"] " |" > readme
    print "| Measured in the binary | clock_gettime(CLOCK_REALTIME_COARSE) " M["clock_realtime_coarse_ns"] " ns; mutex lock+increment+unlock " M["mutex_lock_inc_unlock_ns"] " ns; a pair of CLOCK_MONOTONIC reads " M["clock_monotonic_pair_ns"] " ns |" > readme
    print "" > readme

    # ---- the figures: the harness's table (perf/figures.c), computed, one row each ----
    print "## Figures and targets" > readme
    print "" > readme
    print "Every figure is measured in this one run, from the table in `perf/figures.c`. qk_perf first" > readme
    print "takes every run the figures need back to back, " figrep " times over; each figure is the median of" > readme
    print "its " figrep " per-repetition values (a ratio of two runs taken seconds apart, or a latency), lowest" > readme
    print "and highest in brackets; a figure over the tables' thread counts reads their runs instead." > readme
    print "Single-thread costs are per-thread CPU time per operation, so that time slices taken by other" > readme
    print "processes on a shared machine do not count; the rest is wall-clock throughput, with the cores" > readme
    print "the threads actually got (their CPU time over the run's wall time): a figure about 2 threads" > readme
    print "means little if they got 1 core. A figure about 2 or more threads whose threads got less than" > readme
    print "90 % of the cores they could use (their count, at most the cores online) is marked" > readme
    print "*(indicative)*: on a shared machine such a run measures its neighbours as much as the library." > readme
    print "" > readme
    print "| Figure | Measured | Target | Holds |" > readme
    print "| --- | --- | --- | --- |" > readme
    figure_rows()
    print "" > readme
    if (notes != "") {
        print "Where the time of `qk_record` goes, what was done about it, and what stands in the way of the" > readme
        print "targets that fail: [" notes "](" notes ") (written by hand, not regenerated)." > readme
        print "" > readme
    }

    # ---- strategies and their validators ----
    print "## Strategies and validators" > readme
    print "" > readme
    print "Every strategy passes exact validators before it is timed: **totals** (threads record" > readme
    print "known counts; every one must be counted), **limit** (threads consume past every limit;" > readme
    print "exactly the limit is granted) and **cut** (writers record services in rounds while a" > readme
    print "monitor snapshots; a consistent cut never shows a later service ahead of an earlier one" > readme
    print "by more than one per writer). Every timed run checks its final counts again." > readme
    print "" > readme
    print "| Strategy | Locking | Snapshot | Validators (3 / 64 services) |" > readme
    print "| --- | --- | --- | --- |" > readme
    for (i = 1; i <= nstrat; i++) {
        st = ORDER[i]
        if (!(st in HAVE)) continue
        snapdesc = KIND[st] == "consistent" ? "consistent cut" : KIND[st] == "lossy" ? "consistent copy of a state that loses updates" : "**no consistent snapshot** (counters read one by one)"
        v = ""
        for (sj = 1; sj <= 2; sj++) {
            s = sj == 1 ? 3 : 64
            if (!((st SUBSEP "check-totals" SUBSEP s) in CK)) continue
            part = ""
            if (CKV[st, "check-totals", s] == "FAIL" || CKV[st, "check-limit", s] == "FAIL" || CKV[st, "check-cut", s] == "FAIL")
                part = "**FAILED**"
            if (CKL[st, "check-totals", s] > 0)
                part = part (part == "" ? "" : ", ") "lost " CKL[st, "check-totals", s] " of " CKN[st, "check-totals", s] " records"
            if (CKO[st, "check-limit", s] > 0)
                part = part (part == "" ? "" : ", ") "granted " CKO[st, "check-limit", s] " calls past the limits"
            if (CKT[st, "check-cut", s] > 0)
                part = part (part == "" ? "" : ", ") CKT[st, "check-cut", s] " of " CKS[st, "check-cut", s] " snapshots torn"
            if (part == "") part = "all exact"
            v = v (v == "" ? "" : " / ") part
        }
        print "| `" st "` | " LOCKD[st] " | " snapdesc " | " v " |" > readme
    }
    print "" > readme
    print "A strategy whose own state loses updates (`racy`, the spec's bug) is timed for reference only:" > readme
    print "its lost updates are shown next to its throughput and it is never a winner. One without a" > readme
    print "consistent snapshot (`atomic`) is the physical floor for counting. **Bold** marks the fastest" > readme
    print "strategy of a row among the others." > readme
    print "" > readme

    # ---- throughput per workload ----
    print "## Throughput" > readme
    print "" > readme
    print "Millions of operations per second, all threads together (median of " gridrep "). A consume is one" > readme
    print "`try_consume`; when granted, it is given back (refund) so the count stays at the limit's edge." > readme
    print "`disjoint` gives thread i service i mod n, so with more threads than services they share." > readme
    print "" > readme
    nw = split("disjoint hot mix consume oversubscribed grant", WL, " ")
    split("each thread its own service|all threads on one service|the spec's three services, 7:7:2 (tiingo, finnhub, sendgrid)|try_consume one below the limit, own service per thread|the spec's 200 threads, half on one service, half on another|try_consume under a limit no run reaches, every grant kept, own service per thread: quotakeeper without a store, with one (a lease in hand), and the per-call peers on the same loopback redis-server", WDESC, "|")
    ncharts = 0
    for (wi = 1; wi <= nw; wi++) {
        wl = WL[wi]
        for (sj = 1; sj <= 2; sj++) {
            s = sj == 1 ? 3 : 64
            if (wl == "oversubscribed" && !((wl SUBSEP s) in WS)) continue
            if (!((wl SUBSEP s) in WS)) continue
            n = split(thread_list(wl, s), tl, " ")
            print "### " wl ", " s " services: " WDESC[wi] > readme
            print "" > readme
            if (n > 1) {
                name = wl "-" s
                CHART[++ncharts] = name; CTITLE[ncharts] = wl ", " s " services" (wl == "grant" ? ": consumes per second against threads, local and through Redis" : ": " WDESC[wi]); CKIND[ncharts] = "threads"
                CSTRAT[ncharts] = chart_strategies(wl)
                print "![" wl " " s "](" name ".png)" > readme
                print "" > readme
                dat = tmpdir "/" name ".dat"
                print "# threads " CSTRAT[ncharts] > dat
            }
            strategy_table_head("| threads |", " " SUBJ " / " BASE " | cores got (" SUBJ ") |", "| ---: |", " ---: | ---: |", wl)
            for (t = 1; t <= n; t++) {
                th = tl[t]; best = ""; bestv = -1
                for (i = 1; i <= nstrat; i++) {
                    st = ORDER[i]; v = med(st, wl, s, th, 0, "ops_per_s")
                    if (KIND[st] != "lossy" && v != "" && v + 0 > bestv) { bestv = v + 0; best = st }
                }
                printf "| %s |", th > readme
                if (n > 1) printf "%s", th > dat
                for (i = 1; i <= nstrat; i++) {
                    st = ORDER[i]
                    if (!present(st, wl)) continue
                    v = med(st, wl, s, th, 0, "ops_per_s")
                    cell = v != "" && v + 0 < 1e5 ? sprintf("%.3f", mops(v)) : fmt(mops(v)) # round trips
                    if (st == best) cell = "**" cell "**"
                    if (KIND[st] == "lossy" && v != "" && wl != "consume")
                        cell = cell sprintf(" (lost %.0f%%)", med(st, wl, s, th, 0, "lost_pct"))
                    if (wl == "consume" && v != "" && med(st, wl, s, th, 0, "refused_pct") >= 0.5) cell = cell sprintf(" (%.0f%% refused)", med(st, wl, s, th, 0, "refused_pct"))
                    printf " %s |", cell > readme
                    if (n > 1) printf " %s", (v == "" ? "NaN" : v / 1e6) > dat
                }
                print " " ratio_cell(paired(SUBJ, BASE, wl, s, th, 0, "ops_per_s")) " | " fmt(med(SUBJ, wl, s, th, 0, "cores_used")) " |" > readme
                if (n > 1) print "" > dat
            }
            if (n > 1) close(dat)
            print "" > readme
        }
    }

    # ---- snapshots ----
    print "## Snapshots under writers" > readme
    print "" > readme
    print "Writers record, each on its own service, while one monitor thread snapshots every service" > readme
    print "at a fixed rate or back to back (`max`). Writer throughput in Mops/s, then the snapshot" > readme
    print "latency p50 / p99 (every snapshot timed). A negative loss is not a gain from snapshots: with" > readme
    print "one global lock, two writers on two cores contend, and a monitor that wakes up can leave them" > readme
    print "sharing one core, where they stop contending. Back-to-back snapshots that take every lock" > readme
    print "starve the writers; rate-limit them." > readme
    print "" > readme
    nr = split("0 10 1000 max", RATES, " ")
    for (sj = 1; sj <= 2; sj++) {
        s = sj == 1 ? 3 : 64
        if (!(("snapshot" SUBSEP s) in WS)) continue
        nwr = split(thread_list("snapshot", s), wl_list, " ")
        for (wj = 1; wj <= nwr; wj++) {
            w = wl_list[wj]
            print "### " s " services, " w " writer(s)" > readme
            print "" > readme
            if (w == W) {
                name = "snapshot-" s
                CHART[++ncharts] = name; CTITLE[ncharts] = "writers under snapshots, " s " services, " w " writer(s)"; CKIND[ncharts] = "rates"
                CSTRAT[ncharts] = chart_strategies("snapshot")
                print "![snapshot " s "](" name ".png)" > readme
                print "" > readme
                dat = tmpdir "/" name ".dat"
                print "# rate " CSTRAT[ncharts] > dat
            }
            print "| strategy | writers alone | 10/s | 1,000/s | back to back | loss at 1,000/s | snapshot p50 / p99 at 1,000/s | back to back: snapshots/s, p50 / p99 |" > readme
            print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" > readme
            for (i = 1; i <= nstrat; i++) {
                st = ORDER[i]
                if (!present(st, "snapshot")) continue
                printf "| %s |", st > readme
                for (r = 1; r <= nr; r++)
                    printf " %s |", fmt(mops(med(st, "snapshot", s, w, RATES[r], "ops_per_s"))) > readme
                a = med(st, "snapshot", s, w, 1000, "ops_per_s"); b = med(st, "snapshot", s, w, 0, "ops_per_s")
                printf " %s |", (a != "" && b > 0) ? sprintf("%.1f%%", 100 * (1 - a / b)) : "n/a" > readme
                printf " %s / %s |", ns(med(st, "snapshot", s, w, 1000, "snap_p50_ns")), ns(med(st, "snapshot", s, w, 1000, "snap_p99_ns")) > readme
                printf " %s, %s / %s |\n", fmt(med(st, "snapshot", s, w, "max", "snap_per_s")), ns(med(st, "snapshot", s, w, "max", "snap_p50_ns")), ns(med(st, "snapshot", s, w, "max", "snap_p99_ns")) > readme
            }
            if (w == W) {
                split("none 10/s 1000/s max", RLABEL, " ")
                for (r = 1; r <= nr; r++) {
                    printf "%s", RLABEL[r] > dat
                    for (i = 1; i <= nstrat; i++) {
                        st = ORDER[i]
                        if (!present(st, "snapshot")) continue
                        v = med(st, "snapshot", s, w, RATES[r], "ops_per_s")
                        printf " %s", (v == "" ? "NaN" : v / 1e6) > dat
                    }
                    print "" > dat
                }
                close(dat)
            }
            print "" > readme
        }
    }

    # ---- latency ----
    print "## Operation latency" > readme
    print "" > readme
    print "One operation in 1,024 is timed with two CLOCK_MONOTONIC reads (their cost, measured at" > readme
    print "start, is taken off); p50 / p99 at one thread, at the core count and at the most threads." > readme
    print "Resolution is that of the clock (tens of ns on some machines), so p50 of an uncontended" > readme
    print "operation is coarse; p99 shows the waits." > readme
    print "" > readme
    strategy_table_head("| workload | threads |", "", "| --- | ---: |", "", "")
    split("disjoint hot mix consume oversubscribed grant", LW, " ")
    for (wi = 1; wi <= 6; wi++) {
        wl = LW[wi]
        if (!((wl SUBSEP 3) in WS)) continue
        n = split(thread_list(wl, 3), tl, " ")
        delete pick
        pick[tl[1]] = 1; pick[tl[n]] = 1
        if ((wl SUBSEP 3 SUBSEP cores) in TH) pick[cores] = 1
        for (t = 1; t <= n; t++) {
            if (!(tl[t] in pick)) continue
            printf "| %s (3 services) | %s |", wl, tl[t] > readme
            for (i = 1; i <= nstrat; i++) {
                st = ORDER[i]
                if (!(st in HAVE)) continue
                printf " %s / %s |", ns(med(st, wl, 3, tl[t], 0, "p50_ns")), ns(med(st, wl, 3, tl[t], 0, "p99_ns")) > readme
            }
            print "" > readme
        }
    }
    print "" > readme

    # ---- method ----
    print "## Method and caveats" > readme
    print "" > readme
    print "- `perf/qk_perf.c` runs every cell (workload, services, threads, snapshot rate) " gridrep " times; within a" > readme
    print "  repetition the strategies run back to back, starting one further along each time. Each run" > readme
    print "  creates a fresh tracker and fresh threads, releases them together, and counts the operations" > readme
    print "  done between the start and stop signals; stragglers cannot stretch that window." > readme
    print "- The adapters (`perf/strategy_*.c`) share one loop template (`perf/strategy_template.h`), as in" > readme
    print "  Concurrency Kit's regressions. Trackers (`racy`, `global`, `global-slot`, `rwlock`, `sharded`)" > readme
    print "  are called out of line, as a library is; `floor`, `atomic` and `ck` are inlined primitives." > readme
    print "- `global`, `rwlock` and `racy` do the spec's `record_call` work: count, remaining, the day's" > readme
    print "  total, `updated_at` from the coarse clock that quotakeeper also reads. `sharded` is quotakeeper" > readme
    print "  through its public API (linked statically): one window per service, `QK_FOREVER`, so that no" > readme
    print "  count resets mid-run (the roll check costs the same for every period), no event callback." > readme
    print "  `global-slot` does `sharded`'s work (the library's own slot update: windows, rollover, levels," > readme
    print "  overflow; the clock read before the lock) under one global mutex: only the lock differs." > readme
    print "- The store strategies (`leased`, `lua-per-call`, `incrby-pipelined`) talk to a " (("redis_server" in M) ? M["redis_server"] : "redis-server") " that" > readme
    print "  qk_perf starts on a free loopback port (no persistence) and stops at exit; each thread of the" > readme
    print "  per-call peers holds its own connection. They run only in `grant` (and their validators, at" > readme
    print "  3 services): a round trip per call would make the other workloads take minutes. A `leased`" > readme
    print "  tracker first consumes until its sync thread has bought a lease, so its runs measure" > readme
    print "  consumes with a lease in hand; its store operations are the tracker's syncs." > readme
    print "- The DynamoDB strategies (`leased-ddb`, `ddb-per-call`: one conditional UpdateItem per" > readme
    print "  consume, the original system's design) talk to a dynalite that qk_perf starts the same way;" > readme
    print "  their store operations are the HTTP requests counted at libcurl, validators' included." > readme
    print "- The machine may be shared: compare ratios from this run, not absolute numbers across runs." > readme
    print "  Single-thread figures use CPU time per operation for that reason. Load average: before the" > readme
    print "  run " M["loadavg_before"] ", after " M["loadavg_after"] "." > readme
    print "- With more threads than cores (64, 200) throughput measures the scheduler as much as the lock;" > readme
    print "  spinning locks (`ck`) collapse there by design." > readme
    print "" > readme
    print "## Regenerating, here or on another machine" > readme
    print "" > readme
    print "- Here (Debian, 2 cores, about 5 minutes): `perf/make-report.sh`. It installs `build-essential cmake" > readme
    print "  ninja-build libck-dev gnuplot-nox` when missing, builds `build/qk-perf/perf/qk_perf`, runs" > readme
    print "  `perf/run.sh perf/out/<date> --full` and `perf/report.sh perf/out/<date> docs/perf`." > readme
    print "- Quicker looks: `perf/run.sh OUT --quick` (about 2 minutes) or any `qk_perf --help` option." > readme
    print "- A machine without libck, gnuplot or network: build here (the binary is static, libck and" > readme
    print "  glibc included), carry `build/qk-perf/perf/qk_perf` and `perf/run.sh`, run" > readme
    print "  `QK_PERF_BIN=path/to/qk_perf QK_PERF_SOURCE_REV=<commit> perf/run.sh OUT --full`" > readme
    print "  there (about 5 minutes on 16 cores), bring `OUT` back and render it" > readme
    print "  with `perf/report.sh OUT docs/perf/<machine>`; this page then links it." > readme
    if (others != "") {
        n = split(others, oth, " ")
        printf "- Other machines:" > readme
        for (i = 1; i <= n; i++) printf " [%s](%s/README.md)%s", oth[i], oth[i], i < n ? "," : ".\n" > readme
    }
    lease_section()
    close(readme)

    # ---- gnuplot: each strategy's style from the list, so a colour means the same everywhere ----
    print "set terminal pngcairo size 900,520 font 'sans,10'" > gp
    print "set key outside right top" > gp
    print "set grid" > gp
    print "set logscale y 10" > gp
    print "set ylabel 'Mops/s (all threads)'" > gp
    for (c = 1; c <= ncharts; c++) {
        print "set output '" docdir "/" CHART[c] ".png'" > gp
        print "set title \"" CTITLE[c] "\"" > gp
        if (CKIND[c] == "threads") {
            split(CHART[c], nm, "-")
            n = split(thread_list(nm[1], nm[2]), tl, " ")
            xt = ""
            for (i = 1; i <= n; i++) xt = xt (i > 1 ? ", " : "") "'" tl[i] "' " tl[i]
            print "set logscale x 2; set xlabel 'threads'; set xrange [" tl[1] / 1.2 ":" tl[n] * 1.2 "]; set xtics (" xt ")" > gp
            using = "using 1:"
        } else {
            print "unset logscale x; set xlabel 'snapshots per second'; set xrange [-0.3:3.3]; set xtics auto" > gp
            using = "using 0:"
        }
        cmd = "plot"; col = 1
        ncs = split(CSTRAT[c], cs, " ")
        for (i = 1; i <= ncs; i++) {
            col++
            cmd = cmd (col > 2 ? ", " : " ") "'" tmpdir "/" CHART[c] ".dat' " using col (CKIND[c] == "threads" ? "" : ":xtic(1)") " with linespoints lw " (cs[i] == SUBJ ? 3 : 2) " " STYLE[cs[i]] " title '" cs[i] "'"
        }
        print cmd > gp
    }
    if (NLEASE > 0) {
        # The lease experiment: unused lease (left axis) and store operations per consume
        # (right axis) against the lease size; the adaptive lease has no size to stand at.
        dat = tmpdir "/lease.dat"
        print "# lease_max unused store_ops_per_consume" > dat
        for (i = 1; i <= NLEASE; i++) if (LZ[i] > 0) print LZ[i], (LU[i] > 0 ? LU[i] : 0.5), LO[i] > dat
        close(dat)
        print "set output '" docdir "/lease.png'" > gp
        print "set title \"lease left unused at the window's end, against the lease size (" LN " consumes, one host)\"" > gp
        print "set logscale x 10; set xlabel 'lease size (lease\\_max, calls)'; set xrange [*:*]; set xtics auto" > gp
        print "set logscale y 10; set ylabel 'calls granted and not used'; set y2label 'store operations per consume'; set logscale y2 10; set y2tics; set ytics nomirror" > gp
        print "plot '" dat "' using 1:2 with linespoints lw 2 lc rgb '#e377c2' pt 7 title 'unused at the end', '" dat "' using 1:3 axes x1y2 with linespoints lw 2 lc rgb '#7f7f7f' dt 2 pt 8 title 'store operations per consume'" > gp
        print "unset y2tics; unset y2label; unset logscale y2; set ytics mirror" > gp
    }
    close(gp)

    # ---- summary.csv: the medians behind the tables ----
    sum = docdir "/summary.csv"
    print "strategy,workload,services,threads,snap_rate,reps,ops_per_s,cpu_ns_per_op,p50_ns,p99_ns,snap_per_s,snap_p50_ns,snap_p99_ns,cores_used,lost_updates,limit_violations,torn_snapshots" > sum
    close(sum)
    for (k in LOST) {
        split(k, f, SUBSEP)
        line = f[1] "," f[2] "," f[3] "," f[4] "," f[5] "," split(L[k, "ops_per_s"], tmp, " ")
        split("ops_per_s cpu_ns_per_op p50_ns p99_ns snap_per_s snap_p50_ns snap_p99_ns cores_used", metrics, " ")
        for (m = 1; m <= 8; m++) line = line "," median(L[k, metrics[m]])
        print line "," LOST[k] "," VIOL[k] "," TORN[k] | "sort -t, -k2,2 -k1,1 -k3,3n -k4,4n -k5,5 >> " sum
    }
    close("sort -t, -k2,2 -k1,1 -k3,3n -k4,4n -k5,5 >> " sum)
    for (st in failed) print "report: strategy " st " FAILED a validator or a timed check" > "/dev/stderr"
}
