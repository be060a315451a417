# Sourced by perf's scripts that measure one program (rolling-cost.sh, consume-cost.sh,
# fleet-rolling.sh): the one place that knows how such a program is built.
#
#   perf_build_one BUILD_DIR TARGET
#
# Configures BUILD_DIR when it has no CMakeCache.txt (RelWithDebInfo, so that callgrind names
# the measured functions; perf on; no tests, examples or lock checks), builds TARGET there every
# time (a no-op when it is up to date, so a binary never lags behind the source it measures),
# and sets perf_bin to its path. Returns non-zero, with a message, when there is no binary after.
perf_build_one() {
  local build=$1 target=$2
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQK_BUILD_PERF=ON \
      -DQK_LOCK_CHECKS=OFF -DBUILD_TESTING=OFF -DQK_BUILD_EXAMPLES=OFF >/dev/null
  fi
  cmake --build "$build" --target "$target" -j "$(nproc)" >/dev/null
  perf_bin=$build/perf/$target
  [ -x "$perf_bin" ] || { echo "build-one.sh: no $target at $perf_bin" >&2; return 1; }
}
