#!/usr/bin/env bash
# README.md's "Install" recipe as written, into a scratch prefix, on a machine without Criterion:
#  1. pkg-config is shown every module but criterion; a configure with the tests on must then fail
#     on Criterion (the control: the hiding works), and the recipe's configure must not.
#  2. The recipe builds only the libraries, qkctl and the man pages: no tests/, perf/, examples/.
#  3. Against the install, with LD_LIBRARY_PATH unset: examples/quickstart through find_package
#     and through the README's pkg-config line, the config library through pkg-config, and
#     libquotakeeper_config.so loaded by path (dlopen); the installed qkctl and config library
#     need no libquotakeeper.so (so no rpath).
#  4. `--target uninstall` removes every file the install wrote and nothing else.
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LD_LIBRARY_PATH PKG_CONFIG_PATH
fail() { echo "install-recipe: $*" >&2; exit 1; }

mkdir "$tmp/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
  [ -d "$d" ] || continue
  for f in "$d"/*.pc; do
    n=${f##*/}
    [ -e "$f" ] && [ "$n" != criterion.pc ] && [ ! -e "$tmp/pc/$n" ] && ln -s "$f" "$tmp/pc/$n"
  done
done
export PKG_CONFIG_LIBDIR=$tmp/pc
pkg-config --exists hiredis || fail "the scratch pkg-config directory lacks hiredis"
! pkg-config --exists criterion || fail "criterion is still visible to pkg-config"
if cmake -S "$src" -B "$tmp/control" -DQK_HAVE_ROBUST_MUTEX=ON >"$tmp/control.log" 2>&1; then
  fail "the control configure (tests on) passed without Criterion: the hiding does not work"
fi
grep -q criterion "$tmp/control.log" || fail "the control configure failed, but not on Criterion"

# The recipe (README.md, "Install"), with --prefix for the scratch prefix instead of sudo.
b=$tmp/build prefix=$tmp/prefix
cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DQK_BUILD_EXAMPLES=OFF -DQK_BUILD_PERF=OFF >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "the recipe's configure failed without Criterion"; }
for d in tests perf examples bindings; do
  [ ! -e "$b/$d" ] || fail "the recipe configured $d/"
done
cmake --build "$b" -j 2 >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log"; fail "build"; }
cmake --install "$b" --prefix "$prefix" >/dev/null

libdir=$prefix/lib
[ -e "$libdir/libquotakeeper.so.0" ] || fail "no libquotakeeper.so.0 in $libdir"
"$prefix/bin/qkctl" --version >/dev/null || fail "the installed qkctl does not run"
# The man pages are built when scdoc is found (QK_BUILD_MANPAGES): required then, said if not.
if grep -q '^QK_BUILD_MANPAGES:BOOL=ON' "$b/CMakeCache.txt"; then
  for page in man1/qkctl.1 man3/quotakeeper.3 man5/quotakeeper.ini.5; do
    [ -f "$prefix/share/man/$page" ] || fail "man page $page not installed"
  done
else
  echo "install-recipe: NOTE: no scdoc here, so the recipe built no man pages; not checked"
fi
# qkctl links the static core; the config library needs the core and finds it beside itself
# (RUNPATH $ORIGIN), with no absolute path baked in (CMakeLists.txt says so).
! readelf -d "$prefix/bin/qkctl" | grep -q 'NEEDED.*libquotakeeper' ||
  fail "qkctl needs libquotakeeper.so"
cfg_dyn=$(readelf -d "$libdir/libquotakeeper_config.so")
if grep -q 'NEEDED.*libquotakeeper\.so' <<<"$cfg_dyn"; then
  grep -qE 'RUNPATH.*\[\$ORIGIN\]' <<<"$cfg_dyn" ||
    fail "libquotakeeper_config.so needs libquotakeeper.so without RUNPATH \$ORIGIN"
fi
! grep -qE '(RPATH|RUNPATH).*/' <<<"$cfg_dyn" || fail "libquotakeeper_config.so has an absolute rpath"

expect='quickstart: finnhub call allowed, 1 of 60 used this minute'
cmake -S "$src/examples/quickstart" -B "$tmp/qs" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/qs" >/dev/null
[ "$("$tmp/qs/quickstart")" = "$expect" ] || fail "quickstart (find_package) printed otherwise"

export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -std=c11 "$src/examples/quickstart/quickstart.c" -o "$tmp/qs_pc" \
  $(pkg-config --cflags --libs quotakeeper) -Wl,-rpath,"$(pkg-config --variable=libdir quotakeeper)"
[ "$("$tmp/qs_pc")" = "$expect" ] || fail "quickstart (pkg-config) printed otherwise"
cfg=$src/tests/abi/config-consumer
cc -std=c11 "$cfg/consumer.c" -o "$tmp/config_pc" $(pkg-config --cflags --libs quotakeeper-config) \
  -Wl,-rpath,"$(pkg-config --variable=libdir quotakeeper-config)"
"$tmp/config_pc" "$cfg/quota.ini" >/dev/null || fail "the config consumer (pkg-config) failed"
/usr/bin/python3 -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1]).qk_config_load' \
  "$libdir/libquotakeeper_config.so.0" || fail "dlopen of libquotakeeper_config.so.0 failed"
echo "install-recipe: installed without Criterion; quickstart, config consumer and dlopen ran"

# Uninstall removes what the manifest lists and leaves a file it did not install.
grep -q "/libquotakeeper.so.0" "$b/install_manifest.txt" || fail "the manifest lacks the library"
echo keep >"$libdir/not-ours.txt"
cmake --build "$b" --target uninstall >/dev/null
left=$(cd "$prefix" && find . \( -type f -o -type l \) ! -path ./lib/not-ours.txt)
[ -z "$left" ] || fail "uninstall left: $left"
[ -f "$libdir/not-ours.txt" ] || fail "uninstall removed a file it did not install"
[ ! -e "$libdir/cmake/quotakeeper" ] || fail "uninstall left lib/cmake/quotakeeper/"
echo "install-recipe: uninstall removed the $(wc -l <"$b/install_manifest.txt") installed files"
