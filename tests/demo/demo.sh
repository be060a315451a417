#!/usr/bin/env bash
# The demo program end to end (ctest label demo): the built examples/qk_demo, as a reader of
# the README runs it, one case per ctest test:
#
#   demo.sh CASE      with QK_DEMO (the binary) in the environment; QK_REDIS_SERVER or
#                     redis-server on PATH for the redis case; PYTHON (default /usr/bin/python3)
#
# Cases: help (--help and bad arguments), deadstore (a store URL nobody listens on), redis (a
# real redis-server: two hosts, an outage, a restart). Every output is checked for "(null)",
# and every exit status against the demo's own summary line (3 exactly when the store was out
# and nothing was granted).
set -uo pipefail

: "${QK_DEMO:?}" "${PYTHON:=/usr/bin/python3}"
case_name=${1:?usage: demo.sh CASE}

case_kind=demo
after_run=no_null
# shellcheck source=../support/case.sh
. "$(cd "$(dirname "$0")/../support" && pwd)/case.sh"
redis_pid=
# A NULL passed to %s prints as "(null)" with glibc: never in the demo's output.
no_null() { lacks out.txt "(null)"; lacks err.txt "(null)"; }
# The demo's summary: "G calls granted, R refused, U not allowed while the store was out, ..."
granted() { sed -n 's/^\([0-9][0-9]*\) calls granted.*/\1/p' out.txt; }
unavailable() { sed -n 's/.*, \([0-9][0-9]*\) not allowed while the store was out.*/\1/p' out.txt; }
# demo_run ARGS...: a store run; its exit status must be the one its summary calls for.
demo_run() {
    "$QK_DEMO" "$@" >out.txt 2>err.txt
    local got=$? g u
    no_null
    g=$(granted) u=$(unavailable)
    if [ -z "$g" ] || [ -z "$u" ]; then
        fail "'$*' printed no summary (exit $got): $(tail -c 600 out.txt) $(head -c 600 err.txt)"
        return
    fi
    if [ "$g" -eq 0 ] && [ "$u" -gt 0 ]; then
        [ "$got" -eq 3 ] || fail "'$*': nothing granted, $u refused by the outage, exit $got, wanted 3"
        has err.txt "the store was out"
    else
        [ "$got" -eq 0 ] || fail "'$*': $g granted, exit $got, wanted 0; $(head -c 600 err.txt)"
    fi
}
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

case $case_name in
help)
    run 0 "$QK_DEMO" --help
    for word in "usage:" --config --state --private --store --store-timeout "Exit status"; do
        has out.txt "$word"
    done
    [ ! -s err.txt ] || fail "--help wrote to stderr: $(head -c 300 err.txt)"
    run 2 "$QK_DEMO" --frob
    has err.txt "--frob: unknown option"
    has err.txt "usage:"
    for bad in 0 -5 12x "" 600001 99999999999999999999; do
        run 2 "$QK_DEMO" --private --store-timeout "$bad"
        has err.txt "--store-timeout $bad: not a whole number of ms from 1 to 600000"
    done
    run 2 "$QK_DEMO" --store
    has err.txt "--store: unknown option or missing value"
    ;;
deadstore)
    # A free loopback port nobody listens on: the tracker opens (a store outage never stops
    # a start), the store degrades, and SAFE gives a host that never synced nothing.
    port=$(free_port)
    run 3 "$QK_DEMO" --private --store "redis://127.0.0.1:$port" --store-timeout 200
    has out.txt "store event: degraded"
    has out.txt "0 calls granted, 0 refused, 320 not allowed while the store was out, 320 attempted"
    has out.txt "The store is degraded"
    has err.txt "demo: the store was out: no call was granted (320 not allowed)"
    has err.txt "Connection refused"
    has err.txt "(--private: these counts end with the demo unless the store answers before it exits)"
    # Without a store, the same demo grants and exits 0.
    run 0 "$QK_DEMO" --private
    has out.txt "calls granted"
    lacks out.txt "store event"
    lacks out.txt "not allowed while the store was out"
    ;;
redis)
    server=${QK_REDIS_SERVER:-$(command -v redis-server)}
    [ -x "$server" ] || { echo "FAIL [redis]: no redis-server on PATH and QK_REDIS_SERVER unset (scripts/need.sh redis-server)" >&2; exit 1; }
    port=$(free_port)
    mkdir redis
    # Started with setpriv --pdeathsig, so a killed test never leaves it behind; appendfsync
    # always, so a restart keeps every acknowledged count.
    start_redis() {
        setpriv --pdeathsig KILL "$server" --port "$port" --bind 127.0.0.1 --dir "$work/redis" \
            --save '' --appendonly yes --appendfsync always --daemonize no >>redis.log 2>&1 &
        redis_pid=$!
        bg_pids+=("$redis_pid")
        local i
        for i in $(seq 100); do
            ping_redis && return 0
            kill -0 "$redis_pid" 2>/dev/null || break
            sleep 0.1
        done
        echo "FAIL [redis]: redis-server did not answer on 127.0.0.1:$port: $(tail -5 redis.log)" >&2
        exit 1
    }
    # PING over bash's /dev/tcp, in a subshell so that its descriptors and errors stay there.
    ping_redis() {
        (
            exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
            printf 'PING\r\n' >&3
            IFS= read -r -t 2 line <&3 && [ "${line%$'\r'}" = "+PONG" ]
        ) 2>/dev/null
    }
    stop_redis() { kill -TERM "$redis_pid"; wait "$redis_pid" 2>/dev/null; redis_pid=; }
    url="redis://127.0.0.1:$port"
    # A timeout far above a loopback round trip, so that a busy machine never turns a slow
    # answer into calls "not allowed while the store was out" (the counts below are exact).
    # One month window of 400: the demo's 320 calls all go to it, so host a takes 320, host b
    # the last 80 (a month ends mid-run only at 00:00 UTC on the 1st).
    printf '[service tiingo]\nmonth = 400\n' >fleet.ini
    start_redis
    demo_run --config fleet.ini --state a.qkstate --store "$url" --store-timeout 5000
    has out.txt "320 calls granted, 0 refused, 0 not allowed while the store was out"
    lacks out.txt "store event"
    lacks out.txt "overdraft"
    demo_run --config fleet.ini --state b.qkstate --store "$url" --store-timeout 5000
    has out.txt "80 calls granted, 240 refused, 0 not allowed while the store was out"
    has out.txt "tiingo          400      400          0 exhausted"
    lacks out.txt "overdraft"
    # The store goes away: host a degrades, and SAFE lets it past its (given back) lease by
    # 25 % of the 80 that were left at its last sync: 20 calls beyond the fleet's limit.
    stop_redis
    demo_run --config fleet.ini --state a.qkstate --store "$url" --store-timeout 5000
    has out.txt "  store event: degraded (the store stopped answering"
    has out.txt "20 calls granted, 0 refused, 300 not allowed while the store was out"
    # Back (the same data): host a's sync lands its 340, the fleet's use is 420 of 400, and
    # the demo prints the overdraft.
    start_redis
    demo_run --config fleet.ini --state a.qkstate --store "$url" --store-timeout 5000
    has out.txt "The fleet's overdraft (SAFE's counted overshoot"
    has out.txt "  tiingo   month   20 over the limit of 400 (fleet used 420)"
    has out.txt "tiingo          420      400          0 exhausted"
    lacks out.txt "store event: degraded"
    # The degraded state lives in the state file, and enough answers in a row end it (5 today:
    # a run of this one-service demo makes a few): within 5 runs, the recovery prints as a
    # store event, once, and the overdraft stays what it was.
    recovered=0
    for i in 0 1 2 3 4 5; do
        grep -qF "store event: recovered" out.txt && { recovered=1; break; }
        [ "$i" -eq 5 ] && break
        demo_run --config fleet.ini --state a.qkstate --store "$url" --store-timeout 5000
        has out.txt "  tiingo   month   20 over the limit of 400 (fleet used 420)"
        lacks out.txt "store event: degraded"
    done
    [ "$recovered" -eq 1 ] || fail "no 'store event: recovered' after 5 more runs with the store back"
    echo "recovered after $i more run(s)"
    if [ "$recovered" -eq 1 ]; then
        [ "$(grep -cF "store event: recovered" out.txt)" -eq 1 ] || fail "recovered printed twice"
        has out.txt "  store event: recovered (the store answers again)"
    fi
    stop_redis
    ;;
*)
    echo "demo.sh: unknown case '$case_name'" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "demo [$case_name]: $failures check(s) failed" >&2
    exit 1
fi
echo "demo [$case_name]: ok"
