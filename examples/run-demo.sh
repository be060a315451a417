#!/usr/bin/env bash
# Builds quotakeeper and runs the demo. On a fresh Debian 12 machine it installs the compiler
# and the libraries it needs first (the demo reads examples/demo.ini with libinih).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/need.sh build-essential cmake ninja-build pkg-config libhiredis-dev libinih-dev
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DQK_BUILD_PERF=OFF >/dev/null
cmake --build build/demo --target qk_demo
exec ./build/demo/examples/qk_demo "$@"
