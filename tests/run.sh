#!/usr/bin/env bash
# The whole test suite, every layer (docs/testing.md). On a fresh Debian 12 machine it installs
# what it needs first. Layers alone: tests/run.sh [main|tsan|asan]...
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# redis-server and dynalite (into build/node, the builds' default QK_NODE_DIR): the real store
# servers tests/support starts; a test that needs one fails without it, never skips.
# qkctl's libraries, and promtool, curl and python3 (/usr/bin) for its cli tests.
# libinih for the config library; scdoc builds the man pages, which man-db's man -l renders.
# The DynamoDB store: libcurl (OpenSSL flavour) and jansson; python3-botocore (/usr/bin/python3)
# checks its signatures (tests/store_ddb).
scripts/need.sh build-essential cmake ninja-build pkg-config libhiredis-dev libcriterion-dev valgrind libck-dev \
  gnuplot-nox clang libclang-rt-14-dev clang-format redis-server libjansson-dev libmicrohttpd-dev \
  python3-prometheus-client curl python3 libinih-dev scdoc man-db python3-cffi python3-pytest python3-dev \
  python3-setuptools python3-wheel python3-venv python3-pip libcurl4-openssl-dev python3-botocore \
  --npm build/node dynalite@4.0.0

jobs=$(nproc)
layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(main tsan asan)

build() { # dir, cmake args... (every layer with QK_WERROR: a warning fails the run)
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -G Ninja -DQK_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

for layer in "${layers[@]}"; do
  echo "=== layer: $layer ==="
  case $layer in
    main) # Debug with the lock-order checker: unit, checks, mutation, stress, helgrind,
          # memcheck, state, support, cli, abi, install, format, perf smoke and python.
      build build/test-main -DCMAKE_BUILD_TYPE=Debug -DQK_LOCK_CHECKS=ON -DQK_BUILD_PYTHON=ON
      ctest --test-dir build/test-main --output-on-failure -j "$jobs" ;;
    tsan) # ThreadSanitizer over the plain pthread stress programs.
      build build/test-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQK_SANITIZE=thread \
        -DQK_LOCK_CHECKS=ON -DQK_BUILD_PERF=OFF -DQK_BUILD_EXAMPLES=OFF
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
        ctest --test-dir build/test-tsan --output-on-failure -j "$jobs" -L "stress|fleet" ;;
    asan) # AddressSanitizer + UBSan over the Criterion suites (config too) and stress programs.
      build build/test-asan -DCMAKE_BUILD_TYPE=Debug -DQK_SANITIZE=address,undefined \
        -DQK_LOCK_CHECKS=ON -DQK_BUILD_PERF=OFF -DQK_BUILD_EXAMPLES=OFF
      ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" \
        ctest --test-dir build/test-asan --output-on-failure -j "$jobs" -L "unit|checks|stress|state|config|fleet" ;;
    *) echo "unknown layer $layer (main, tsan, asan)"; exit 2 ;;
  esac
done
echo "tests/run.sh: all layers passed (${layers[*]})"
