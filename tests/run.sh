#!/usr/bin/env bash
# The whole test suite, every layer (docs/testing.md). On a fresh Debian 12 machine it installs
# what it needs first. Layers alone: tests/run.sh [release|main|tsan|asan]...
#
# Every layer asked for runs, even after one fails; each ends with one summary line (passed and
# failed counts, seconds), the run with a total line, and the exit status is non-zero when any
# layer failed. Each layer's tests run in a session of their own: a process of that session
# still alive after the layer (a test's helper that outlived it) is listed, killed and fails the
# layer, and so does any process whose program lives in this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# redis-server and dynalite (into build/node, the builds' default QK_NODE_DIR): the real store
# servers tests/support starts; a test that needs one fails without it, never skips.
# qkctl's libraries, and curl, python3 and its Prometheus client parser (/usr/bin) for its cli
# tests (the parser checks the exposition: no Prometheus server is installed for it).
# libinih for the config library; scdoc builds the man pages, which man-db's man -l renders.
# The DynamoDB store: libcurl (OpenSSL flavour) and jansson; python3-botocore (/usr/bin/python3)
# checks its signatures (tests/store_ddb). tzdata: the time zone database src/tz.c reads (unit_tz).
scripts/need.sh build-essential cmake ninja-build pkg-config libhiredis-dev libcriterion-dev valgrind libck-dev \
  gnuplot-nox clang libclang-rt-14-dev clang-format redis-server libjansson-dev libmicrohttpd-dev \
  python3-prometheus-client curl python3 libinih-dev scdoc man-db python3-cffi python3-pytest python3-dev \
  python3-setuptools python3-wheel python3-venv python3-pip libcurl4-openssl-dev python3-botocore tzdata \
  --npm build/node dynalite@4.0.0

jobs=$(nproc)
layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(release main tsan asan)
for layer in "${layers[@]}"; do
  case $layer in release | main | tsan | asan) ;; *) echo "unknown layer $layer (release, main, tsan, asan)"; exit 2 ;; esac
done
logs=$root/build/test-logs
mkdir -p "$logs"

build() { # dir, cmake args... (every layer with QK_WERROR: a warning fails the run)
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -G Ninja -DQK_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j "$jobs"
}

# Runs "$@" in a new session and prints its session id first (setsid's child becomes the
# leader, so its pid is the session id); waits for it; returns its status.
in_session() { # sidfile, command...
  local sidfile=$1; shift
  setsid --wait bash -c 'echo $$ >"$0"; exec "$@"' "$sidfile" "$@"
}

# Processes left by a layer: those of its session, and any whose program is in this checkout.
# Prints "pid command" for each, kills them, and returns 1 when there were any.
leftovers() { # sid
  local sid=$1 found=0 pid exe
  local -A seen=()
  for pid in $(ps -eo pid=,sid= | awk -v s="$sid" '$2 == s { print $1 }'); do
    seen[$pid]=1
  done
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case $exe in "$root"/*) seen[${p#/proc/}]=1 ;; esac
  done
  for pid in "${!seen[@]}"; do
    [ "$pid" != "$$" ] || continue
    local what state
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || continue
    case $state in Z*) continue ;; esac # already dead, waiting to be reaped
    what=$(ps -o args= -p "$pid" 2>/dev/null) || continue
    echo "left running after the layer: pid $pid: $what"
    kill -KILL "$pid" 2>/dev/null || true
    found=1
  done
  return $((found == 0 ? 0 : 1))
}

# Runs one layer's tests (ctest args...) in a session; sets passed, failed and ok.
run_ctest() { # layer, env assignments as one string, ctest args...
  local layer=$1 envs=$2; shift 2
  local log=$logs/$layer.log sidfile=$logs/$layer.sid
  local status=0
  # shellcheck disable=SC2086
  in_session "$sidfile" env $envs ctest "$@" 2>&1 | tee "$log" || status=$?
  local summary
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$summary" ]; then
    local total fails
    fails=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$summary")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$summary")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
  else
    echo "layer $layer: ctest printed no summary (exit $status)"
    ok=0
  fi
  [ "$status" -eq 0 ] || ok=0
  leftovers "$(cat "$sidfile")" || { failed=$((failed + 1)); ok=0; }
}

all_passed=0 all_failed=0 bad_layers=()
summaries=()
for layer in "${layers[@]}"; do
  echo "=== layer: $layer ==="
  start=$SECONDS passed=0 failed=0 ok=1
  case $layer in
    release) # What a user builds: Release (-O3) with QK_WERROR, no tests: the library, the
             # config library, qkctl, the man pages and the examples; then the two examples run.
      if build build/test-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DQK_BUILD_PERF=OFF; then
        passed=1
        for prog in "build/test-release/examples/qk_demo --help" build/test-release/examples/qk_quickstart; do
          if $prog >"$logs/release-run.log" 2>&1; then passed=$((passed + 1)); else
            echo "release: '$prog' failed:"; cat "$logs/release-run.log"; failed=$((failed + 1)); ok=0
          fi
        done
      else
        echo "release: the Release build with QK_WERROR=ON failed"; failed=1; ok=0
      fi ;;
    main) # Debug with the lock-order checker: every ctest label (docs/testing.md).
      if build build/test-main -DCMAKE_BUILD_TYPE=Debug -DQK_LOCK_CHECKS=ON -DQK_BUILD_PYTHON=ON; then
        run_ctest main "" --test-dir build/test-main --output-on-failure -j "$jobs"
      else failed=1; ok=0; echo "main: the build failed"; fi ;;
    tsan) # ThreadSanitizer over the plain pthread stress programs.
      if build build/test-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQK_SANITIZE=thread \
        -DQK_LOCK_CHECKS=ON -DQK_BUILD_PERF=OFF -DQK_BUILD_EXAMPLES=OFF; then
        run_ctest tsan "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1" \
          --test-dir build/test-tsan --output-on-failure -j "$jobs" -L "stress|fleet"
      else failed=1; ok=0; echo "tsan: the build failed"; fi ;;
    asan) # AddressSanitizer + UBSan over the Criterion suites (config too) and stress programs.
      if build build/test-asan -DCMAKE_BUILD_TYPE=Debug -DQK_SANITIZE=address,undefined \
        -DQK_LOCK_CHECKS=ON -DQK_BUILD_PERF=OFF -DQK_BUILD_EXAMPLES=OFF; then
        run_ctest asan "ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1" \
          --test-dir build/test-asan --output-on-failure -j "$jobs" -L "unit|checks|stress|state|config|fleet"
      else failed=1; ok=0; echo "asan: the build failed"; fi ;;
  esac
  line="layer $layer: $passed passed, $failed failed, $((SECONDS - start)) s"
  [ "$ok" -eq 1 ] || { line="$line (FAILED)"; bad_layers+=("$layer"); }
  echo "$line"
  summaries+=("$line")
  all_passed=$((all_passed + passed)) all_failed=$((all_failed + failed))
done

echo "=== summary ==="
printf '%s\n' "${summaries[@]}"
if [ ${#bad_layers[@]} -gt 0 ]; then
  echo "tests/run.sh: layers failed: ${bad_layers[*]} (logs in build/test-logs)"
fi
echo "total: $all_passed passed, $all_failed failed"
[ ${#bad_layers[@]} -eq 0 ]
