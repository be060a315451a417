#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs a consumer against it
# three ways: CMake package (shared and static) and pkg-config.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src" -B "$tmp/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/cmake/consumer_shared"
"$tmp/cmake/consumer_static"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cc -std=c11 "$src/consumer.c" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs quotakeeper)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/consumer_pc"
echo "install-consumer: CMake (shared, static) and pkg-config consumers ran"
