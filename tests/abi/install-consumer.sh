#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs a consumer against it
# three ways: CMake package (shared and static) and pkg-config. With a third argument, the
# config library's consumer too: the package's `config` component and quotakeeper-config.pc.
# No LD_LIBRARY_PATH: CMake gives its consumers an rpath to the prefix, and the pkg-config lines
# add one as README.md says for a prefix outside the loader's path.
set -euo pipefail
unset LD_LIBRARY_PATH
build=$1 src=$2 config_src=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src" -B "$tmp/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
"$tmp/cmake/consumer_shared"
"$tmp/cmake/consumer_static"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cc -std=c11 "$src/consumer.c" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs quotakeeper) \
  -Wl,-rpath,"$(pkg-config --variable=libdir quotakeeper)"
"$tmp/consumer_pc"
echo "install-consumer: CMake (shared, static) and pkg-config consumers ran"
[ -n "$config_src" ] || exit 0

cmake -S "$config_src" -B "$tmp/config" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/config" >/dev/null
"$tmp/config/config_consumer_shared" "$config_src/quota.ini"
"$tmp/config/config_consumer_static" "$config_src/quota.ini"
cc -std=c11 "$config_src/consumer.c" -o "$tmp/config_consumer_pc" \
  $(pkg-config --cflags --libs quotakeeper-config) \
  -Wl,-rpath,"$(pkg-config --variable=libdir quotakeeper-config)"
"$tmp/config_consumer_pc" "$config_src/quota.ini"
# Linked statically, the config library needs libinih: Requires.private carries it.
pkg-config --static --libs quotakeeper-config | grep -q -- -linih
echo "install-consumer: config library consumers (CMake shared, static; pkg-config) ran"
