#!/usr/bin/env bash
# qkctl end to end (ctest label cli): the real qkctl against state files made by the real
# library (qkctl_mkstate), one case per ctest test:
#
#   cli.sh CASE      with QKCTL, QKCTL_MKSTATE, METRICS_CHECK, CURL, PYTHON in the environment
#
# Every check compares an exact value; "nothing changed" means the file's bytes and mtime for a
# file qkctl must not touch (missing, corrupt, a usage error: never opened), and every count for
# a file it opened and must leave as it was (a writer's open may roll a window's bookkeeping).
set -uo pipefail

: "${QKCTL:?}" "${QKCTL_MKSTATE:?}" "${METRICS_CHECK:=$(dirname "$0")/check_metrics.py}" "${CURL:=curl}" "${PYTHON:=/usr/bin/python3}"
case_name=${1:?usage: cli.sh CASE}

# The files have minute windows and the checks exact counts: a minute (and so a day or a month)
# ending mid-case would roll them. Each case takes a few seconds, so one that would start in a
# minute's last 15 s waits for the next minute.
while [ $(($(date +%s) % 60)) -ge 45 ]; do sleep 0.5; done

case_kind=qkctl-cli
# shellcheck source=../support/case.sh
. "$(cd "$(dirname "$0")/../support" && pwd)/case.sh"

# Starts `qkctl serve` on s.qkstate on a port the kernel picks (port 0: no race with another
# test), which serve prints; sets pid and port, and ends the case when it does not start.
start_serve() {
    "$QKCTL" -f s.qkstate serve --listen 127.0.0.1:0 >serve.txt 2>serve.err &
    pid=$!
    bg_pids+=("$pid")
    for _ in $(seq 200); do grep -q '/metrics' serve.txt 2>/dev/null && break; sleep 0.05; done
    port=$(sed -n 's|^serving http://127.0.0.1:\([0-9]*\)/metrics from s.qkstate.*|\1|p' serve.txt)
    [ -n "$port" ] || { fail "serve did not start: $(cat serve.txt serve.err)"; exit 1; }
}

# A file with finnhub (minute 60, day 1000, reserve 10) at 45, tiingo (month 500) at 3, and
# ever (forever 5) at 5.
make_state() {
    "$QKCTL_MKSTATE" "$1" finnhub:minute=60,day=1000:reserve=10:record=45 \
        tiingo:month=500:record=3 ever:forever=5:record=5 || { echo "mkstate failed" >&2; exit 2; }
}

# json FILE EXPR: EXPR evaluated by Python with d = the parsed document.
json() {
    "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# counts FILE: every service's window counts and limits, one line (from show --json).
counts() {
    "$QKCTL" -f "$1" show --json >counts.json 2>/dev/null || { echo "unreadable"; return; }
    json counts.json '[(s["name"], [(w["period"], w["used"], w["limit"]) for w in s["windows"]]) for s in d["services"]]'
}
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', wanted '$2'"; }

# Fingerprint: bytes and mtime, after ageing the file so that any write shows.
fp() { touch -d 2001-09-09T01:46:40 "$1"; { sha256sum <"$1"; stat -c %Y:%s "$1"; } | tr '\n' ' '; }

case $case_name in
help)
    run 0 "$QKCTL" --help
    for word in show watch metrics serve reset set record refund consume check \
        "--json" "--interval" "--priority" "--listen" "--allow-remote" "--all" \
        "0  done" "1  error" "2  usage" "3  refused" NO_COLOR; do
        has out.txt "$word"
    done
    run 0 "$QKCTL" help
    run 0 "$QKCTL" --version
    has out.txt "qkctl "
    run 2 "$QKCTL"
    has err.txt "no command"
    run 2 "$QKCTL" -f x frobnicate
    has err.txt "unknown command 'frobnicate'"
    run 2 "$QKCTL" --frob show
    has err.txt "unknown option '--frob'"
    run 2 "$QKCTL" show
    has err.txt "-f STATEFILE or -c CONFIG"
    run 2 "$QKCTL" -f a -c b show
    has err.txt "not both"
    run 2 "$QKCTL" -f a -f b show
    has err.txt "given twice"
    run 2 "$QKCTL" -f
    has err.txt "needs a value"
    ;;

show)
    make_state s.qkstate
    run 0 "$QKCTL" -f s.qkstate show
    has out.txt "SERVICE"
    has out.txt "RESETS AT (UTC)"
    "$PYTHON" - out.txt <<'PY' || fail "the table's rows"
import re, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
want = [["finnhub", "minute", "45", "60", "15", "warn"], ["finnhub", "day", "45", "1000", "955", "ok"],
        ["tiingo", "month", "3", "500", "497", "ok"], ["ever", "forever", "5", "5", "0", "exhausted"]]
assert [r[:6] for r in rows] == want, rows
for r in rows[:3]:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", r[6]), r
assert rows[3][6:] == ["never", "never"], rows[3]
PY
    lacks out.txt $'\033' # piped: no colour
    run 0 "$QKCTL" -f s.qkstate show tiingo
    eq "$(wc -l <out.txt)" 2 "show tiingo: header and one row"
    has out.txt "tiingo"
    lacks out.txt "finnhub"
    run 1 "$QKCTL" -f s.qkstate show tiingo nosuch
    has err.txt "no service 'nosuch'"
    has err.txt "finnhub, tiingo, ever"
    # On a terminal the level is coloured; NO_COLOR turns it off there too.
    "$PYTHON" - "$QKCTL" <<'PY' || fail "colour on a terminal"
import os, pty, subprocess, sys
def on_tty(env):
    m, s = pty.openpty()
    p = subprocess.run([sys.argv[1], "-f", "s.qkstate", "show"], stdout=s, stderr=s, env=env)
    os.close(s)
    out = b""
    try:
        while chunk := os.read(m, 65536):
            out += chunk
    except OSError:
        pass
    assert p.returncode == 0, out
    return out
env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
env["TERM"] = "xterm"
assert b"\x1b[33mwarn" in on_tty(env), "no yellow warn on a terminal"
assert b"\x1b[1;31mexhausted" in on_tty(env)
assert b"\x1b" not in on_tty(dict(env, NO_COLOR="1")), "NO_COLOR ignored"
PY
    ;;

json)
    make_state s.qkstate
    run 0 "$QKCTL" -f s.qkstate show --json
    cp out.txt all.json
    eq "$(json all.json '[s["name"] for s in d["services"]]')" "['finnhub', 'tiingo', 'ever']" names
    eq "$(json all.json 'd["file"]')" "s.qkstate" file
    eq "$(json all.json '[(w["index"], w["period"], w["used"], w["limit"], w["remaining"], w["level"]) for w in d["services"][0]["windows"]]')" \
        "[(0, 'minute', 45, 60, 15, 'warn'), (1, 'day', 45, 1000, 955, 'ok')]" finnhub
    eq "$(json all.json 'd["services"][0]["level"], d["services"][0]["remaining"]')" "('warn', 15)" "finnhub's binding window"
    eq "$(json all.json 'd["services"][2]["windows"][0]["reset_at"], d["services"][2]["windows"][0]["reset_at_ms"], d["services"][2]["windows"][0]["resets_in_s"], d["services"][2]["windows"][0]["window_start"]')" \
        "(None, None, None, None)" "a forever window"
    # Times agree with each other: the minute window ends on a minute, after taken_at, within 60 s.
    eq "$(json all.json '(lambda w: (w["reset_at_ms"] % 60000, w["reset_at_ms"] - w["window_start_ms"], 0 < w["reset_at_ms"] - d["taken_at_ms"] <= 60000, 0 < w["resets_in_s"] <= 60))(d["services"][0]["windows"][0])')" \
        "(0, 60000, True, True)" "minute times"
    eq "$(json all.json '__import__("datetime").datetime.strptime(d["services"][1]["windows"][0]["reset_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000 == d["services"][1]["windows"][0]["reset_at_ms"]')" \
        True "reset_at and reset_at_ms agree"
    run 0 "$QKCTL" -f s.qkstate show ever --json finnhub
    eq "$(json out.txt '[s["name"] for s in d["services"]]')" "['ever', 'finnhub']" "selected, in order"
    # Errors are JSON too, with qk_err_name's codes.
    run 1 "$QKCTL" -f s.qkstate show --json nosuch
    eq "$(json out.txt 'd["error"]["code"], d["error"]["value"]')" "('QK_ENOENT', -2)" "unknown service"
    has err.txt "no service 'nosuch'"
    run 1 "$QKCTL" -f missing.qkstate show --json
    eq "$(json out.txt 'd["error"]["code"]')" "QK_EIO" "missing file"
    printf 'not a state file at all, just text that is long enough to hold a header......\n%.0s' {1..20} >foreign
    run 1 "$QKCTL" -f foreign show --json
    eq "$(json out.txt 'd["error"]["code"]')" "QK_ECORRUPT" "foreign file"
    ;;

watch)
    make_state s.qkstate
    run 0 "$QKCTL" -f s.qkstate watch --interval 0.1 --count 3
    eq "$(grep -c '^SERVICE' out.txt)" 3 "three tables"
    lacks out.txt $'\033'
    "$QKCTL" -f s.qkstate record tiingo 2 >/dev/null || fail "record"
    run 0 "$QKCTL" -f s.qkstate watch tiingo --count 1
    has out.txt "tiingo   month      5"
    run 2 "$QKCTL" -f s.qkstate watch --interval 0
    has err.txt "--interval"
    run 2 "$QKCTL" -f s.qkstate watch --interval 1e3
    run 2 "$QKCTL" -f s.qkstate watch --interval -1
    run 2 "$QKCTL" -f s.qkstate watch --count 0
    # On a terminal: the alternate screen, left again on Ctrl-C (SIGINT), exit 0; the same for
    # SIGTERM; and piped, SIGINT ends it cleanly too.
    "$PYTHON" - "$QKCTL" <<'PY' || fail "watch on a terminal"
import os, pty, signal, subprocess, sys, time
for sig in (signal.SIGINT, signal.SIGTERM):
    m, s = pty.openpty()
    p = subprocess.Popen([sys.argv[1], "-f", "s.qkstate", "watch", "--interval", "0.2"],
                         stdout=s, stderr=s, env=dict(os.environ, TERM="xterm"))
    os.close(s)
    out = b""
    deadline = time.time() + 10
    while out.count(b"SERVICE") < 2 and time.time() < deadline:
        out += os.read(m, 65536)
    p.send_signal(sig)
    assert p.wait(timeout=10) == 0, (sig, p.returncode, out)
    try:
        while chunk := os.read(m, 65536):
            out += chunk
    except OSError:
        pass
    assert out.startswith(b"\x1b[?1049h\x1b[?25l"), out[:40]
    assert out.endswith(b"\x1b[?25h\x1b[?1049l"), out[-40:]
    assert out.count(b"\x1b[H\x1b[J") >= 2, "not redrawn in place"
PY
    "$QKCTL" -f s.qkstate watch --interval 0.1 >piped.txt 2>&1 &
    pid=$!
    bg_pids+=("$pid")
    for _ in $(seq 100); do grep -q SERVICE piped.txt && break; sleep 0.05; done
    kill -INT "$pid"
    wait "$pid"
    eq "$?" 0 "piped watch after SIGINT"
    ;;

change)
    make_state s.qkstate
    run 0 "$QKCTL" -f s.qkstate record tiingo 7
    has out.txt "tiingo month: 10/500 used, 490 left, ok, resets "
    run 0 "$QKCTL" -f s.qkstate refund tiingo 4
    has out.txt "tiingo month: 6/500 used"
    run 0 "$QKCTL" -f s.qkstate refund tiingo 1000 # a count stops at 0
    has out.txt "tiingo month: 0/500 used"
    run 0 "$QKCTL" -f s.qkstate set finnhub day 500
    eq "$(counts s.qkstate)" "[('finnhub', [('minute', 45, 60), ('day', 500, 1000)]), ('tiingo', [('month', 0, 500)]), ('ever', [('forever', 5, 5)])]" "set by period"
    run 0 "$QKCTL" -f s.qkstate set finnhub 0 12
    eq "$(counts s.qkstate)" "[('finnhub', [('minute', 12, 60), ('day', 500, 1000)]), ('tiingo', [('month', 0, 500)]), ('ever', [('forever', 5, 5)])]" "set by index"
    run 0 "$QKCTL" -f s.qkstate reset finnhub
    has out.txt "finnhub minute: 0/60 used"
    has out.txt "finnhub day: 0/1000 used"
    eq "$(counts s.qkstate)" "[('finnhub', [('minute', 0, 60), ('day', 0, 1000)]), ('tiingo', [('month', 0, 500)]), ('ever', [('forever', 5, 5)])]" "reset one"
    run 0 "$QKCTL" -f s.qkstate record tiingo 9
    run 0 "$QKCTL" -f s.qkstate reset --all
    eq "$(counts s.qkstate)" "[('finnhub', [('minute', 0, 60), ('day', 0, 1000)]), ('tiingo', [('month', 0, 500)]), ('ever', [('forever', 0, 5)])]" "reset --all"
    eq "$(grep -c ' used, ' out.txt)" 4 "reset --all reports every window"
    run 2 "$QKCTL" -f s.qkstate reset
    run 2 "$QKCTL" -f s.qkstate reset finnhub --all
    run 0 "$QKCTL" -f s.qkstate record ever 18446744073709551610 # record never refuses
    run 1 "$QKCTL" -f s.qkstate record ever 10
    has err.txt "overflow"
    ;;

consume)
    make_state s.qkstate
    run 0 "$QKCTL" -f s.qkstate consume finnhub 5
    has out.txt "granted: finnhub 5"
    has out.txt "finnhub minute: 50/60 used"
    # 50 + 5 = 55 > 60 - 10 reserved: refused, exit 3, naming the window and its reset.
    run 3 "$QKCTL" -f s.qkstate consume finnhub 5
    has out.txt "refused: finnhub 5 would exceed its minute window (window 0): 50/60 used, 10 left (the rest is the reserve, for --priority)"
    "$PYTHON" -c 'import re, sys; t = open("out.txt").read(); sys.exit(not re.search(r"^resets at \d{4}-\d\d-\d\dT\d\d:\d\d:00Z \(in (\d+s|1m 00s|now)\)$", t, re.M))' ||
        fail "refusal's reset time: $(cat out.txt)"
    eq "$(counts s.qkstate)" "[('finnhub', [('minute', 50, 60), ('day', 50, 1000)]), ('tiingo', [('month', 3, 500)]), ('ever', [('forever', 5, 5)])]" "nothing counted on refusal"
    run 0 "$QKCTL" -f s.qkstate consume finnhub 5 --priority
    run 3 "$QKCTL" -f s.qkstate consume --priority finnhub 6
    has out.txt "55/60 used, 5 left"
    lacks out.txt "reserve"
    run 3 "$QKCTL" -f s.qkstate consume ever 1
    has out.txt "its forever window"
    has out.txt "it never resets"
    run 1 "$QKCTL" -f s.qkstate consume nosuch 1
    run 2 "$QKCTL" -f s.qkstate consume finnhub 1 --priority=yes
    eq "$(counts s.qkstate)" "[('finnhub', [('minute', 55, 60), ('day', 55, 1000)]), ('tiingo', [('month', 3, 500)]), ('ever', [('forever', 5, 5)])]" "final counts"
    ;;

concurrent)
    # 8 qkctl processes, 40 records each (n = 1..4 in turn), all on one file at once: the file's
    # count is exactly the sum. A lost update between processes would show as a shortfall.
    "$QKCTL_MKSTATE" s.qkstate hot:minute=1000000,forever=1000000 || exit 2
    start=$(mktemp -u "$work/go-XXXX")
    mkfifo "$start"
    for p in $(seq 8); do
        (
            read -r _ <"$start"
            for i in $(seq 40); do
                "$QKCTL" -f s.qkstate record hot $(((i % 4) + 1)) >/dev/null || exit 1
            done
        ) &
        bg_pids+=("$!")
    done
    sleep 0.2
    exec 9>"$start" # releases every reader at once
    exec 9>&-
    for p in "${bg_pids[@]}"; do wait "$p" || fail "a recording process failed"; done
    bg_pids=()
    # each process: 10 x (2 + 3 + 4 + 1) = 100; the forever window cannot roll over mid-test
    eq "$(counts s.qkstate | sed 's/.*forever., \([0-9]*\).*/\1/')" 800 "sum of 8 x 100"
    ;;

shapes)
    # Windows of every shape: show, --json and metrics name each (qk_window_get).
    "$QKCTL_MKSTATE" s.qkstate a:second=30,minute/15=900,hour@1800000=10,week=5000 \
        b:day@25200000=1000,week@205200000=100,month@345600000=1000,month/3=10000 ||
        { echo "mkstate failed" >&2; exit 2; }
    run 0 "$QKCTL" -f s.qkstate show --json
    cp out.txt sh.json
    eq "$(json sh.json '[(w["shape"], w["period"], w["every"], w["length_ms"], w["offset_ms"], w["rolling"], w["tz"]) for s in d["services"] for w in s["windows"]]')" \
        "[('second', 'second', 1, 1000, 0, False, None), ('15 minutes', 'minute', 15, 900000, 0, False, None), ('hour @:30', 'hour', 1, 3600000, 1800000, False, None), ('week', 'week', 1, 604800000, 0, False, None), ('day @07:00', 'day', 1, 86400000, 25200000, False, None), ('week @wed 09:00', 'week', 1, 604800000, 205200000, False, None), ('month @5th', 'month', 1, 0, 345600000, False, None), ('3 months', 'month', 3, 0, 0, False, None)]" \
        "each window's shape"
    run 0 "$QKCTL" -f s.qkstate show
    for text in "15 minutes" "hour @:30" "day @07:00" "week @wed 09:00" "month @5th" "3 months"; do
        has out.txt "$text"
    done
    run 0 "$QKCTL" -f s.qkstate metrics
    cp out.txt m.txt
    "$METRICS_CHECK" <m.txt >lint.txt 2>&1 || fail "exposition check: $(cat lint.txt)"
    [ ! -s lint.txt ] || fail "exposition lint: $(cat lint.txt)"
    has m.txt 'quotakeeper_limit{service="a",window="second",shape="1s"} 30'
    has m.txt 'quotakeeper_limit{service="a",window="minute",shape="15m"} 900'
    has m.txt 'quotakeeper_limit{service="a",window="hour",shape="1h@:30"} 10'
    has m.txt 'quotakeeper_limit{service="b",window="day",shape="1d@07:00"} 1000'
    has m.txt 'quotakeeper_limit{service="b",window="week",shape="1w@wed_09:00"} 100'
    has m.txt 'quotakeeper_limit{service="b",window="month",shape="1mo@5th"} 1000'
    has m.txt 'quotakeeper_limit{service="b",window="month_2",shape="3mo"} 10000'
    ;;

rolling)
    # Rolling windows in a state file (docs/windows.md, "Rolling windows"): show, --json and
    # metrics name them, and each qkctl process counts on the calls the ones before it took. A
    # rolling hour holds its calls for an hour, so no call slides out during the case.
    "$QKCTL_MKSTATE" s.qkstate r:rolling-hour=10,minute=60:record=7 s:rolling-second=30 ||
        { echo "mkstate failed" >&2; exit 2; }
    run 0 "$QKCTL" -f s.qkstate show --json
    cp out.txt r.json
    eq "$(json r.json '[(w["shape"], w["period"], w["length_ms"], w["rolling"], w["used"], w["limit"]) for s in d["services"] for w in s["windows"]]')" \
        "[('rolling hour', 'hour', 3600000, True, 7, 10), ('minute', 'minute', 60000, False, 7, 60), ('rolling second', 'second', 1000, True, 0, 30)]" \
        "each window's rolling flag"
    run 0 "$QKCTL" -f s.qkstate show
    has out.txt "rolling hour"
    has out.txt "rolling second"
    run 0 "$QKCTL" -f s.qkstate consume r 3
    has out.txt "granted: r 3"
    # 10 in the rolling hour: refused by window 0, though the minute has room.
    run 3 "$QKCTL" -f s.qkstate consume r 1
    has out.txt "(window 0): 10/10 used, 0 left"
    eq "$(counts s.qkstate)" "[('r', [('hour', 10, 10), ('minute', 10, 60)]), ('s', [('second', 0, 30)])]" "counted across processes"
    run 0 "$QKCTL" -f s.qkstate metrics
    cp out.txt m.txt
    "$METRICS_CHECK" <m.txt >lint.txt 2>&1 || fail "exposition check: $(cat lint.txt)"
    [ ! -s lint.txt ] || fail "exposition lint: $(cat lint.txt)"
    has m.txt 'quotakeeper_used{service="r",window="hour",shape="r1h"} 10'
    has m.txt 'quotakeeper_used{service="r",window="minute",shape="1m"} 10'
    has m.txt 'quotakeeper_limit{service="s",window="second",shape="r1s"} 30'
    ;;

metrics)
    make_state s.qkstate
    run 0 "$QKCTL" -f s.qkstate metrics
    cp out.txt m.txt
    "$METRICS_CHECK" <m.txt >lint.txt 2>&1 || fail "exposition check: $(cat lint.txt)"
    [ ! -s lint.txt ] || fail "exposition lint: $(cat lint.txt)"
    has m.txt 'quotakeeper_used{service="finnhub",window="minute",shape="1m"} 45'
    has m.txt 'quotakeeper_limit{service="finnhub",window="day",shape="1d"} 1000'
    has m.txt 'quotakeeper_remaining{service="tiingo",window="month",shape="1mo"} 497'
    has m.txt 'quotakeeper_level{service="ever",window="forever",shape="forever"} 3'
    has m.txt 'quotakeeper_reset_timestamp_seconds{service="ever",window="forever",shape="forever"} +Inf'
    has m.txt 'quotakeeper_services 3'
    for m in used limit remaining level reset_timestamp_seconds window_start_timestamp_seconds; do
        has m.txt "# TYPE quotakeeper_$m gauge"
        has m.txt "# HELP quotakeeper_$m "
    done
    # The reset time agrees with show --json, in seconds.
    "$QKCTL" -f s.qkstate show --json >s.json
    want=$(json s.json 'f"{d[\"services\"][0][\"windows\"][1][\"reset_at_ms\"] // 1000}.000"')
    has m.txt "quotakeeper_reset_timestamp_seconds{service=\"finnhub\",window=\"day\",shape=\"1d\"} $want"
    run 0 "$QKCTL" -f s.qkstate metrics tiingo
    lacks out.txt finnhub
    ;;

serve)
    make_state s.qkstate
    start_serve
    code=$("$CURL" -s -o body.txt -w '%{http_code} %{content_type}' "http://127.0.0.1:$port/metrics")
    eq "$code" "200 text/plain; version=0.0.4; charset=utf-8" "/metrics"
    "$METRICS_CHECK" <body.txt >lint.txt 2>&1 || fail "exposition check on /metrics: $(cat lint.txt)"
    has body.txt 'quotakeeper_used{service="finnhub",window="minute",shape="1m"} 45'
    # A writer's count shows in the next scrape.
    "$QKCTL" -f s.qkstate record finnhub 2 >/dev/null
    "$CURL" -s "http://127.0.0.1:$port/metrics" >body2.txt
    has body2.txt 'quotakeeper_used{service="finnhub",window="minute",shape="1m"} 47'
    eq "$("$CURL" -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" 404 "/"
    eq "$("$CURL" -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metricsx")" 404 "/metricsx"
    eq "$("$CURL" -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" 405 "POST"
    eq "$("$CURL" -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$port/metrics")" 200 "HEAD"
    kill -TERM "$pid"
    wait "$pid"
    eq "$?" 0 "serve's exit after SIGTERM"
    bg_pids=()
    "$CURL" -s -m 2 "http://127.0.0.1:$port/metrics" >/dev/null && fail "still answering after SIGTERM"
    # A port the test found free, and SIGINT.
    port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$QKCTL" -f s.qkstate serve --listen "127.0.0.1:$port" >serve.txt 2>serve.err &
    pid=$!
    bg_pids+=("$pid")
    for _ in $(seq 200); do grep -q '/metrics' serve.txt 2>/dev/null && break; sleep 0.05; done
    eq "$("$CURL" -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")" 200 "fixed port"
    kill -INT "$pid"
    wait "$pid"
    eq "$?" 0 "serve's exit after SIGINT"
    bg_pids=()
    # Loopback only, unless asked; bad addresses are usage errors.
    run 2 "$QKCTL" -f s.qkstate serve --listen 0.0.0.0:0
    has err.txt "--allow-remote"
    run 2 "$QKCTL" -f s.qkstate serve
    run 2 "$QKCTL" -f s.qkstate serve --listen localhost:9464
    run 2 "$QKCTL" -f s.qkstate serve --listen 127.0.0.1:65536
    run 2 "$QKCTL" -f s.qkstate serve --listen 127.0.0.1:
    run 2 "$QKCTL" -f s.qkstate serve --listen '[::1]9464'
    run 1 "$QKCTL" -f missing.qkstate serve --listen 127.0.0.1:0
    [ ! -e missing.qkstate ] || fail "serve created the file"
    ;;

serve_slow)
    # One client holding 1,200 slow connections (partial requests, a header line every 0.5 s:
    # never idle, never done) from 127.0.0.2 must not starve the scraper at 127.0.0.1: serve
    # caps connections per client and in all, and the time a connection may sit idle
    # (docs/qkctl.md, "serve"). 30 scrapes, each given 2 s, all answer 200.
    make_state s.qkstate
    start_serve
    "$PYTHON" "$(dirname "$METRICS_CHECK")/slow_client.py" "$port" 1200 127.0.0.2 60 >slow.txt 2>&1 &
    slow=$!
    bg_pids+=("$slow")
    for _ in $(seq 600); do grep -q '^ready' slow.txt 2>/dev/null && break; sleep 0.05; done
    grep -q '^ready' slow.txt || { fail "the slow client did not start: $(cat slow.txt)"; exit 1; }
    kill -0 "$slow" 2>/dev/null || fail "the slow client died: $(cat slow.txt)"
    ok=0
    codes=""
    for i in $(seq 30); do
        code=$("$CURL" -s -o "scrape$i.txt" --max-time 2 -w '%{http_code}' "http://127.0.0.1:$port/metrics")
        codes="$codes $code"
        [ "$code" = 200 ] && grep -qF 'quotakeeper_used{service="finnhub",window="minute",shape="1m"} 45' "scrape$i.txt" &&
            ok=$((ok + 1))
    done
    eq "$ok" 30 "scrapes answered while one client held 1,200 slow connections (codes:$codes)"
    kill -0 "$slow" 2>/dev/null || fail "the slow client ended before the scrapes did: $(cat slow.txt)"
    # Thousands of refused connections, but the same message printed at most once per 10 s.
    [ "$(wc -l <serve.err)" -le 10 ] || fail "serve's stderr: $(wc -l <serve.err) lines: $(head -3 serve.err)"
    kill -KILL "$slow"
    wait "$slow" 2>/dev/null
    kill -TERM "$pid"
    wait "$pid"
    eq "$?" 0 "serve's exit after SIGTERM"
    bg_pids=()
    ;;

missing)
    # Inspecting never creates a file; changing with -f never does either.
    for cmd in "show" "show --json" "metrics" "watch --count 1" "record finnhub 1" \
        "consume finnhub 1" "refund finnhub 1" "reset --all" "set finnhub 0 1"; do
        # shellcheck disable=SC2086
        run 1 "$QKCTL" -f missing.qkstate $cmd
        has err.txt "no state file at 'missing.qkstate'"
        [ ! -e missing.qkstate ] || { fail "'$cmd' created the file"; rm -f missing.qkstate; }
    done
    : >empty.qkstate # an empty file stays empty (the library would build a new file in it)
    before=$(fp empty.qkstate)
    for cmd in "show" "metrics" "record finnhub 1" "reset --all"; do
        # shellcheck disable=SC2086
        run 1 "$QKCTL" -f empty.qkstate $cmd
        has err.txt "is empty"
        eq "$(fp empty.qkstate)" "$before" "'$cmd' on an empty file"
    done
    ;;

corrupt)
    make_state good.qkstate
    size=$(stat -c %s good.qkstate)
    printf 'hello, this is not a quotakeeper state file; it is long enough to look like one.%.0s' {1..40} >foreign
    head -c 100 good.qkstate >truncated
    head -c $((size - 64)) good.qkstate >short
    cp good.qkstate checksum && printf '\x07' | dd of=checksum bs=1 seek=28 conv=notrunc status=none
    # Inside a slot, found by value rather than by offset: finnhub's day limit (1000, the first
    # such 8 bytes after the header) made 0, and a stored name with a space.
    "$PYTHON" - <<'PY' || exit 2
import struct
b = bytearray(open("good.qkstate", "rb").read())
i = b.index(struct.pack("<Q", 1000), 128)
open("zerolimit", "wb").write(b[:i] + bytes(8) + b[i + 8:])
i = b.index(b"tiingo\0")
open("badname", "wb").write(b[:i] + b"tii go" + b[i + 6:])
PY
    for f in foreign truncated short checksum zerolimit badname; do
        for cmd in "show" "show --json" "metrics" "watch --count 1" "record finnhub 1" \
            "consume finnhub 1" "reset --all" "set finnhub 0 1" "refund finnhub 1"; do
            before=$(fp $f)
            # shellcheck disable=SC2086
            run 1 "$QKCTL" -f $f $cmd
            has err.txt "state file '$f'"
            eq "$(fp $f)" "$before" "'$cmd' on the $f file"
        done
        run 1 "$QKCTL" -f $f show --json
        eq "$(json out.txt 'd["error"]["code"]')" QK_ECORRUPT "$f: JSON error code"
    done
    ;;

badinput)
    make_state s.qkstate
    want=$(counts s.qkstate)
    before=$(fp s.qkstate)
    # Usage errors: the file is never opened, so even its bytes and mtime stay.
    for args in "record finnhub" "record finnhub 1 2" "record finnhub -1" "record finnhub -0" \
        "record finnhub 0" "record finnhub 5x" "record finnhub ' 5'" "record finnhub 0x10" \
        "record finnhub 1.5" "record finnhub ''" "record finnhub 18446744073709551616" \
        "record finnhub 99999999999999999999999" "refund finnhub -3" "consume finnhub -1" \
        "consume finnhub 1 --frob" "set finnhub 0" "set finnhub 0 -1" "set finnhub -1 5" \
        "set finnhub 0 1e3" "set finnhub 99999999999999999999 1" "set finnhub 0 1 junk" \
        "reset" "show --json=1" "metrics --json" "watch --interval abc" "check"; do
        eval "run 2 \"\$QKCTL\" -f s.qkstate $args"
        [ -s err.txt ] || fail "'$args': no message"
        eq "$(fp s.qkstate)" "$before" "'$args' touched the file"
    done
    run 2 "$QKCTL" -f s.qkstate record finnhub -1
    has err.txt "N '-1' is negative"
    run 2 "$QKCTL" -f s.qkstate record finnhub 18446744073709551616
    has err.txt "too large"
    run 2 "$QKCTL" -f s.qkstate record finnhub 5x
    has err.txt "not a whole number"
    # Errors the file decides: a clear message, exit 1, no count changed.
    run 1 "$QKCTL" -f s.qkstate record nosuch 1
    has err.txt "no service 'nosuch' in the file; it has: finnhub, tiingo, ever"
    run 1 "$QKCTL" -f s.qkstate set finnhub 2 5
    has err.txt "window 2 is out of range: finnhub has windows 0 (minute), 1 (day)"
    run 1 "$QKCTL" -f s.qkstate set finnhub hour 5
    has err.txt "finnhub has no window 'hour'"
    run 1 "$QKCTL" -f s.qkstate reset nosuch
    run 1 "$QKCTL" -f s.qkstate consume nosuch 1
    run 1 "$QKCTL" -f s.qkstate refund nosuch 1
    run 1 "$QKCTL" -f s.qkstate show nosuch
    eq "$(counts s.qkstate)" "$want" "counts after bad input"
    # A directory, a symbolic link, a FIFO: refused by name, the link's target unchanged.
    mkdir d.qkstate
    ln -s s.qkstate link.qkstate
    mkfifo fifo.qkstate
    before=$(fp s.qkstate)
    for cmd in "show" "metrics" "record finnhub 1" "reset --all"; do
        # shellcheck disable=SC2086
        run 1 "$QKCTL" -f d.qkstate $cmd
        has err.txt "'d.qkstate' is a directory"
        # shellcheck disable=SC2086
        run 1 "$QKCTL" -f link.qkstate $cmd
        has err.txt "'link.qkstate' is a symbolic link"
        # shellcheck disable=SC2086
        run 1 "$QKCTL" -f fifo.qkstate $cmd
        has err.txt "'fifo.qkstate' is not a regular file"
    done
    eq "$(fp s.qkstate)" "$before" "the link's target"
    ;;

config)
    cat >q.ini <<'INI'
[quotakeeper]
state = q.qkstate
[service tiingo]
month = 500
[service finnhub]
minute = 60
day = 1000
reserve = 10
INI
    run 0 "$QKCTL" check q.ini
    has out.txt "q.ini: valid"
    has out.txt "tiingo: month 500"
    has out.txt "finnhub: minute 60, day 1000; warn 50%, critical 80%, reserve 10"
    has out.txt "q.qkstate"
    run 0 "$QKCTL" -c q.ini check
    # Inspecting with -c never creates the config's state file either.
    run 1 "$QKCTL" -c q.ini show
    has err.txt "no state file at"
    [ ! -e q.qkstate ] || fail "show -c created the state file"
    # A changing command configures the config's services, as a program using it would.
    run 0 "$QKCTL" -c q.ini record finnhub 3
    eq "$(counts q.qkstate)" "[('tiingo', [('month', 0, 500)]), ('finnhub', [('minute', 3, 60), ('day', 3, 1000)])]" "-c record"
    run 0 "$QKCTL" -c q.ini show --json
    eq "$(json out.txt '[s["name"] for s in d["services"]]')" "['tiingo', 'finnhub']" "-c show"
    # A config's errors name file:line, for check and for -c alike; nothing is created.
    printf '[quotakeeper]\nstate = bad.qkstate\n[service x]\nminute = 0\n' >bad.ini
    run 1 "$QKCTL" check bad.ini
    has err.txt "bad.ini:4:"
    run 1 "$QKCTL" -c bad.ini record x 1
    has err.txt "bad.ini:4:"
    [ ! -e bad.qkstate ] || fail "a bad config created its state file"
    printf '[service x]\nminute = 5\n' >nostate.ini
    run 1 "$QKCTL" -c nostate.ini show
    has err.txt "names no state file"
    run 1 "$QKCTL" check missing.ini
    has err.txt "missing.ini"
    run 1 "$QKCTL" -c missing.ini show --json
    eq "$(json out.txt 'd["error"]["code"]')" QK_EIO "missing config in JSON"
    run 2 "$QKCTL" check a.ini b.ini
    run 2 "$QKCTL" -f q.qkstate check q.ini
    # A rolling window from the file to the state file: check names its shape, and -c counts it.
    printf '[quotakeeper]\nstate = r.qkstate\n[service r]\nrolling hour = 10\n15 minutes = 60\n' >r.ini
    run 0 "$QKCTL" check r.ini
    has out.txt "r: rolling hour 10, 15 minutes 60; warn"
    run 0 "$QKCTL" -c r.ini record r 4
    run 0 "$QKCTL" -c r.ini show --json
    eq "$(json out.txt '[(w["shape"], w["rolling"], w["used"]) for s in d["services"] for w in s["windows"]]')" \
        "[('rolling hour', True, 4), ('15 minutes', False, 4)]" "-c rolling"
    # A day in a time zone: check, show, --json and metrics name the zone (the INI file's words).
    printf '[quotakeeper]\nstate = z.qkstate\n[service g]\nday = 100 tz America/Los_Angeles\n' >z.ini
    run 0 "$QKCTL" check z.ini
    has out.txt "g: day tz America/Los_Angeles 100"
    run 0 "$QKCTL" -c z.ini record g 2
    run 0 "$QKCTL" -c z.ini show
    has out.txt "day tz America/Los_Angeles"
    run 0 "$QKCTL" -c z.ini show --json
    eq "$(json out.txt '[(w["shape"], w["tz"], w["used"]) for s in d["services"] for w in s["windows"]]')" \
        "[('day tz America/Los_Angeles', 'America/Los_Angeles', 2)]" "-c zoned"
    run 0 "$QKCTL" -f z.qkstate metrics
    cp out.txt mz.txt
    "$METRICS_CHECK" <mz.txt >lint.txt 2>&1 || fail "exposition check: $(cat lint.txt)"
    has mz.txt 'quotakeeper_used{service="g",window="day",shape="1d America/Los_Angeles"} 2'
    ;;

escape)
    # Untrusted text is printed escaped (docs/qkctl.md, "Untrusted text"): ESC, BEL, CR and a
    # CSI sequence in arguments, in a path, in a config's service name and state path, and in
    # a store URL reach stdout and stderr as \xHH, never raw; well-formed UTF-8 stays itself,
    # except the C1 and bidirectional controls; a byte that is not UTF-8 is \xHH.
    # raw FILE: fails when FILE holds a control byte other than LF, or a C1 or bidirectional
    # control in UTF-8 (bytes, so LC_ALL=C).
    raw() {
        ! LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]' "$1" ||
            fail "$1 holds a raw control byte ($2): $(od -c "$1" | head -4)"
    }
    make_state s.qkstate
    bad=$'x\e[31mred\a\rz'          # ESC, a CSI sequence (ESC [ 31 m), BEL, CR
    shown='x\x1b[31mred\x07\x0dz'   # as qkctl must show it
    for args in "show" "show --json" "record" "consume" "reset" "set"; do
        case $args in
        show*) run 1 "$QKCTL" -f s.qkstate $args "$bad" ;;
        set) run 1 "$QKCTL" -f s.qkstate set "$bad" 0 1 ;;
        reset) run 1 "$QKCTL" -f s.qkstate reset "$bad" ;;
        *) run 1 "$QKCTL" -f s.qkstate $args "$bad" 1 ;;
        esac
        has err.txt "no service '$shown' in the file"
        raw err.txt "$args: a service name argument"
        raw out.txt "$args: a service name argument"
    done
    # Usage errors echo their argument; so do unknown options and commands.
    run 2 "$QKCTL" -f s.qkstate record finnhub "5$bad"
    has err.txt "N '5$shown' is not a whole number"
    raw err.txt "a count"
    run 2 "$QKCTL" -f s.qkstate show "--$bad"
    has err.txt "unknown option '--$shown'"
    raw err.txt "an option"
    run 2 "$QKCTL" -f s.qkstate "$bad"
    has err.txt "unknown command '$shown'"
    raw err.txt "a command"
    run 2 "$QKCTL" -f s.qkstate serve --listen "127.0.0.1:$bad"
    raw err.txt "--listen"
    # A path: missing, and a real state file whose name holds the bytes.
    run 1 "$QKCTL" -f "$bad.qkstate" show
    has err.txt "no state file at '$shown.qkstate'"
    raw err.txt "a missing path"
    cp s.qkstate "$bad.qkstate"
    run 0 "$QKCTL" -f "$bad.qkstate" watch --count 1
    has out.txt "$shown.qkstate every "
    raw out.txt "watch's header"
    run 0 "$QKCTL" -f "$bad.qkstate" show --json # JSON's own escape, \u001b, and parsed back
    raw out.txt "show --json"
    eq "$(json out.txt 'd["file"] == "x\x1b[31mred\x07\rz.qkstate"')" True "the JSON file name"
    "$QKCTL" -f "$bad.qkstate" serve --listen 127.0.0.1:0 >serve.txt 2>serve.err &
    pid=$!
    bg_pids+=("$pid")
    for _ in $(seq 200); do grep -q '/metrics' serve.txt 2>/dev/null && break; sleep 0.05; done
    has serve.txt "/metrics from $shown.qkstate (Ctrl-C to stop)"
    raw serve.txt "serve's first line"
    kill -TERM "$pid"
    wait "$pid"
    bg_pids=()
    # A state file whose stored name holds ESC: the library refuses the file (a bad stored
    # name), and the message holds no raw byte either.
    "$PYTHON" - <<'PY' || exit 2
b = bytearray(open("s.qkstate", "rb").read())
i = b.index(b"tiingo\0")
open("escname.qkstate", "wb").write(b[:i] + b"t\x1b[2J\x07" + b[i + 6:])
PY
    run 1 "$QKCTL" -f escname.qkstate show
    has err.txt "state file 'escname.qkstate'"
    raw err.txt "a stored name"
    # A config: a service name and a state path holding the bytes.
    printf '[service a%sb]\nminute = 1\n' "$bad" >name.ini
    run 1 "$QKCTL" check name.ini
    has err.txt "name.ini:1: service name 'a${shown}b' has a character outside"
    raw err.txt "a config's service name"
    printf '[quotakeeper]\nstate = %s.qkstate\n[service a]\nminute = 1\n' "$bad" >path.ini
    run 0 "$QKCTL" check path.ini
    has out.txt "state file: $shown.qkstate"
    raw out.txt "a config's state path"
    run 0 "$QKCTL" -c path.ini show
    run 1 "$QKCTL" check "$bad.ini"
    has err.txt "$shown.ini: cannot open"
    raw err.txt "a config path"
    # A store URL, in the library's message.
    run 1 "$QKCTL" store init "redis://127.0.0.1:1$bad" --timeout 1
    has err.txt "store URL 'redis://127.0.0.1:1$shown'"
    raw err.txt "a store URL"
    # UTF-8: letters stay themselves; C1 (U+009B, a one-byte CSI), a bidirectional override
    # (U+202E), a line separator (U+2028) and a byte that is not UTF-8 (0xff) are escaped, and
    # a backslash is doubled so that no escape can be forged.
    run 1 "$QKCTL" -f s.qkstate show $'d\xc3\xa9j\xc3\xa0 \xc2\x9b1m \xe2\x80\xae \xe2\x80\xa8 \xff \\x1b'
    has err.txt $'no service \'d\xc3\xa9j\xc3\xa0 \\u009b1m \\u202e \\u2028 \\xff \\\\x1b\' in'
    raw err.txt "UTF-8"
    eq "$(counts s.qkstate)" "[('finnhub', [('minute', 45, 60), ('day', 45, 1000)]), ('tiingo', [('month', 3, 500)]), ('ever', [('forever', 5, 5)])]" "nothing counted"
    ;;

check_store)
    # check's store line: the store the config names, the password shown as ***, and whether
    # it answers now, against a real redis-server that requires a password. An answer or its
    # absence is reported with exit 0 (the file is valid); a URL the library refuses is a bad
    # config, exit 1. Nothing is written to the store.
    command -v redis-server >/dev/null || { fail "redis-server is not on PATH (scripts/need.sh redis-server)"; exit 1; }
    free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --requirepass s3cret \
        --daemonize no >redis.log 2>&1 &
    rpid=$!
    bg_pids+=("$rpid")
    for _ in $(seq 100); do "$PYTHON" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null && break; sleep 0.05; done
    ini() { printf '[quotakeeper]\nstate = q.qkstate\nstore = %s\n[service a]\nminute = 5\n' "$1" >st.ini; }
    printf '[service a]\nminute = 5\n' >none.ini
    run 0 "$QKCTL" check none.ini
    has out.txt "store: none (the counts are this host's alone)"
    ini "redis://:s3cret@127.0.0.1:$port"
    run 0 "$QKCTL" check st.ini
    has out.txt "st.ini: valid"
    has out.txt "store: redis://:***@127.0.0.1:$port: reachable"
    lacks out.txt s3cret
    ini "redis://:wrong@127.0.0.1:$port"
    run 0 "$QKCTL" -c st.ini check --timeout 2
    has out.txt "store: redis://:***@127.0.0.1:$port: refused: "
    has out.txt "WRONGPASS"
    lacks out.txt wrong@
    closed=$(free_port)
    ini "redis://:s3cret@127.0.0.1:$closed"
    run 0 "$QKCTL" check st.ini
    has out.txt "store: redis://:***@127.0.0.1:$closed: unreachable: "
    lacks out.txt s3cret
    ini "dynamodb://quota?region=us-east-1&endpoint=http://127.0.0.1:$closed"
    run 0 "$QKCTL" check st.ini
    has out.txt "store: dynamodb://quota?region=us-east-1&endpoint=http://127.0.0.1:$closed: not contacted"
    # A URL the library refuses: what a program using the file would hear, and exit 1.
    ini "redis://:s3cret@127.0.0.1:99999"
    run 1 "$QKCTL" check st.ini
    has err.txt "st.ini: store: "
    has err.txt "the port is not a number"
    lacks err.txt s3cret
    [ ! -s out.txt ] || fail "a refused store URL printed: $(cat out.txt)"
    ini "mongo://127.0.0.1"
    run 1 "$QKCTL" check st.ini
    has err.txt "no backend for scheme 'mongo'"
    run 2 "$QKCTL" check st.ini --timeout 0
    [ ! -e q.qkstate ] || fail "check created the state file"
    # Nothing was written to the store.
    eq "$(REDISCLI_AUTH=s3cret redis-cli -p "$port" dbsize)" 0 "keys in the store after check"
    ;;

hostile_store)
    # qkctl's store calls against a hostile Redis (tests/support/qkt_hostile_resp: one byte every
    # 20 ms, a reply that never ends, an array of 10^8 elements, no answer): `consume` through a
    # config naming the store, and `store init --timeout 2`, each exit 1 with the library's
    # message within their bound, never hanging (`timeout 30` ends a hang as a failure, exit
    # 124). consume makes one store call, bounded by store_timeout_ms: the consume's sync (a
    # refused consume leaves qk_tracker_free no lease and no use to report, so it sends no last
    # word); its bound is that plus slack_ms. Before one deadline per
    # call (2d01090) they took 11-20 s and 2.6-10 s.
    : "${QKT_HOSTILE_RESP:?}"
    store_ms=500
    slack_ms=500
    ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
    # bounded LIMIT_MS WHAT CMD...: CMD exits 1 within LIMIT_MS.
    bounded() {
        local limit=$1 what=$2; shift 2
        local t0; t0=$(ms)
        run 1 timeout -k 1 30 "$@"
        local took=$(($(ms) - t0))
        echo "$mode $what: ${took} ms (bound ${limit} ms)"
        [ "$took" -le "$limit" ] || fail "$mode: $what took $took ms, over its $limit ms"
    }
    # hostile MODE: a fresh server for each command (its life is 20 s), in hport and hpid.
    hostile() {
        [ -z "${hpid:-}" ] || { kill -KILL "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null; }
        "$QKT_HOSTILE_RESP" "$1" >hostile.txt 2>hostile.err &
        hpid=$!
        bg_pids+=("$hpid")
        for _ in $(seq 100); do grep -q '^port ' hostile.txt 2>/dev/null && break; sleep 0.05; done
        hport=$(sed -n 's/^port \([0-9]*\)$/\1/p' hostile.txt)
        [ -n "$hport" ] || { fail "$1: the hostile server did not start: $(cat hostile.err)"; exit 1; }
    }
    for mode in drip endless huge_array silent; do
        hostile "$mode"
        printf '[quotakeeper]\nstate = h.qkstate\nstore = redis://127.0.0.1:%s\nstore_timeout_ms = %s\n[service a]\nminute = 5\noutage = closed\n' \
            "$hport" "$store_ms" >h.ini
        bounded $((store_ms + slack_ms)) consume "$QKCTL" -c h.ini consume a 1
        has err.txt "qkctl: consume a 1: the shared store cannot be reached: "
        eq "$(counts h.qkstate)" "[('a', [('minute', 0, 5)])]" "$mode: counts after the refused consume"
        rm -f h.qkstate
        hostile "$mode"
        bounded $((2000 + slack_ms)) "store init" "$QKCTL" store init "redis://127.0.0.1:$hport" --timeout 2
        case $mode in
        drip) has err.txt "qkctl: store init: the shared store cannot be reached: redis TIME: no whole reply within the timeout" ;;
        endless) has err.txt "qkctl: store init: input/output error: redis TIME: a reply over 65536 bytes" ;;
        huge_array) has err.txt "qkctl: store init: input/output error: redis TIME: a reply announcing 100000000 elements" ;;
        silent) has err.txt "qkctl: store init: the shared store cannot be reached: redis TIME: no whole reply within the timeout (0 bytes came)" ;;
        esac
    done
    ;;

*)
    echo "cli.sh: unknown case '$case_name'" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "cli $case_name: $failures failure(s)" >&2
    exit 1
fi
echo "cli $case_name: ok"
