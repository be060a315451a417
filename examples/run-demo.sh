#!/usr/bin/env bash
# Builds quotakeeper and runs the demo. On a fresh Debian 12 machine it installs the compiler
# and the libraries it needs first (the demo reads examples/demo.ini with libinih; qkctl needs
# libjansson and libmicrohttpd).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/need.sh build-essential cmake ninja-build pkg-config libhiredis-dev libinih-dev \
  libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DQK_BUILD_PERF=OFF >/dev/null
# qkctl too: the README inspects the demo's state file with it (build/demo/tools/qkctl/qkctl).
cmake --build build/demo --target qk_demo qkctl
exec ./build/demo/examples/qk_demo "$@"
