#!/usr/bin/env bash
# Builds quotakeeper and runs the demo. On a fresh Debian 12 machine it installs the compiler
# and CMake first.
set -euo pipefail
cd "$(dirname "$0")/.."
need=(build-essential cmake ninja-build)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DQK_BUILD_PERF=OFF >/dev/null
cmake --build build/demo --target qk_demo
exec ./build/demo/examples/qk_demo "$@"
