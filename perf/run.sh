#!/usr/bin/env bash
# Runs the harness and records the machine: OUTDIR/results.csv, OUTDIR/figures.csv,
# OUTDIR/lease.csv, OUTDIR/machine.txt, OUTDIR/strategies.csv and OUTDIR/progress.log. Needs
# only bash and coreutils at run time, so it also works on a bare machine with a qk_perf binary
# carried there (QK_PERF_BIN); without one it builds qk_perf first (CMake, Ninja or Make, a C
# compiler; the ck strategy only where libck-dev is installed). The store strategies need
# redis-server ($QK_REDIS_SERVER or on PATH): qk_perf starts one; without it they are left out.
#
#   perf/run.sh OUTDIR [qk_perf options]     e.g. perf/run.sh perf/out/run1 --full
#   QK_PERF_BIN=/path/qk_perf perf/run.sh OUTDIR --full
#
# QK_PERF_BUILD_DIR picks the build folder (default build/qk-perf).
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 2; }
out=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"

bin=${QK_PERF_BIN:-}
if [ -z "$bin" ]; then
  build=${QK_PERF_BUILD_DIR:-$root/build/qk-perf}
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  [ -f "$build/CMakeCache.txt" ] && gen=() # keep the generator the folder was made with
  echo "run.sh: building qk_perf in $build" >&2
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQK_BUILD_PERF=ON \
    -DQK_LOCK_CHECKS=OFF -DQK_SANITIZE= -DBUILD_TESTING=OFF -DQK_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$build" --target qk_perf -j "$(nproc)" >/dev/null
  bin=$build/perf/qk_perf
fi
[ -x "$bin" ] || { echo "run.sh: no qk_perf at $bin" >&2; exit 2; }

# One "key: value" per line; every command here exists on a bare Linux, and a missing file
# gives "unknown" rather than an error.
first() { "$@" 2>/dev/null | head -n 1 || true; }
val() { local v; v=$(first "$@"); echo "${v:-unknown}"; }
cpuinfo() { grep -m 1 "^$1" /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//' || true; }
{
  echo "date_utc: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu_model: $(val cpuinfo 'model name')"
  echo "cores_online: $(val nproc)"
  echo "cpus_configured: $(val nproc --all)"
  echo "sockets: $(grep '^physical id' /proc/cpuinfo 2>/dev/null | sort -u | wc -l)"
  echo "siblings_per_socket: $(val cpuinfo siblings)"
  echo "cores_per_socket: $(val cpuinfo 'cpu cores')"
  if grep -qw hypervisor /proc/cpuinfo 2>/dev/null; then
    echo "virtualised: yes ($(val systemd-detect-virt))"
  else
    echo "virtualised: no"
  fi
  echo "kernel: $(val uname -srvm)"
  echo "glibc_system: $(val ldd --version)"
  echo "clocksource: $(val cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
  echo "cpufreq_governor: $(val cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor)"
  echo "memory: $(val grep MemTotal /proc/meminfo | sed 's/MemTotal: *//')"
  echo "loadavg_before: $(val cut -d ' ' -f 1-3 /proc/loadavg)"
  rev=${QK_PERF_SOURCE_REV:-}
  if [ -z "$rev" ] && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    rev=$(git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null || true)
  fi
  echo "source_rev: ${rev:-unknown}"
  echo "qk_perf_args: ${*:-(defaults: --full)}"
  rv=$(first "${QK_REDIS_SERVER:-redis-server}" --version | sed -n 's/.* v=\([^ ]*\).*/redis-server \1/p')
  echo "redis_server: ${rv:-unknown}"
  "$bin" --about
} > "$out/machine.txt"
"$bin" --list > "$out/strategies.csv"

echo "run.sh: $bin $*  >  $out/results.csv" >&2
set +e
"$bin" --figures "$out/figures.csv" --lease "$out/lease.csv" "$@" > "$out/results.csv" 2> >(tee "$out/progress.log" >&2)
rc=$?
set -e
sleep 0.2 # let tee finish the log

# The single-thread figures at the build type users who build for speed get (CMake's Release,
# -O3) beside the package's default above (RelWithDebInfo, -O2): OUTDIR/figures-release.csv.
# Only where this script builds qk_perf; QK_PERF_RELEASE=0 skips it.
if [ "$rc" -eq 0 ] && [ -z "${QK_PERF_BIN:-}" ] && [ "${QK_PERF_RELEASE:-1}" != 0 ]; then
  rel=${QK_PERF_BUILD_DIR:-$root/build/qk-perf}-release
  echo "run.sh: the single-thread figures again, built as Release in $rel" >&2
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  [ -f "$rel/CMakeCache.txt" ] && gen=()
  cmake -S "$root" -B "$rel" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DQK_BUILD_PERF=ON \
    -DQK_LOCK_CHECKS=OFF -DQK_SANITIZE= -DBUILD_TESTING=OFF -DQK_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$rel" --target qk_perf -j "$(nproc)" >/dev/null
  "$rel/perf/qk_perf" --workloads none --strategies sharded,global-slot,global,floor \
    --threads 1,2 --figures "$out/figures-release.csv" > /dev/null 2>> "$out/progress.log" || rc=$?
  "$rel/perf/qk_perf" --about | sed -n 's/^\(build_type\|c_flags\): /release_\1: /p' >> "$out/machine.txt"
fi
echo "loadavg_after: $(val cut -d ' ' -f 1-3 /proc/loadavg)" >> "$out/machine.txt"
echo "run.sh: exit $rc; results in $out" >&2
exit $rc
