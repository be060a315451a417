#!/usr/bin/env bash
# The Python package against an installed library, the way a user installs it, offline:
# installs the build tree into a temporary prefix, makes a venv that sees Debian's cffi
# (--system-site-packages), runs `pip install ./bindings/python` with pkg-config pointing at the
# prefix and the network off, then imports the package from another directory and uses it.
#   install-check.sh BUILD_DIR PYTHON
set -euo pipefail
unset PYTHONPATH # the package must come from the venv, not from the build tree
build=$1 python=$2
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
"$python" -m venv --system-site-packages "$tmp/venv"
# A copy of the package, so the build writes nothing into the source tree.
cp -r "$src" "$tmp/pkg"
rm -rf "$tmp/pkg/tests" "$tmp/pkg/perf"
libdir=$(find "$tmp/prefix" -name quotakeeper.pc -printf '%h\n' | head -n1)
PKG_CONFIG_PATH=$libdir PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$tmp/venv/bin/pip" install -q --no-cache-dir "$tmp/pkg"
rm -rf "$tmp/pkg"
cd "$tmp"
"$tmp/venv/bin/python" - "$tmp/prefix" <<'PY'
import sys
import quotakeeper
from quotakeeper import Tracker, QuotaExceeded
native = sys.modules["quotakeeper._native"].__file__
assert native.startswith(sys.prefix), f"imported {native}, not the venv's"
with Tracker([{"name": "s", "windows": [("day", 2)]}]) as t:
    t.try_consume("s", 2)
    try:
        t.try_consume("s")
        raise SystemExit("no QuotaExceeded")
    except QuotaExceeded as e:
        assert e.usage.remaining == 0
import importlib.resources as r
assert (r.files("quotakeeper") / "py.typed").is_file(), "py.typed not installed"
print("install-check: pip installed quotakeeper", quotakeeper.version_string(), "from", native)
PY
# Linked with an rpath to the prefix: it loads without LD_LIBRARY_PATH. Read from the module
# itself (ldd's answer also depends on the environment the test runs in).
native=$(find "$tmp/venv" -name '_native*.so' | head -n1)
readelf -d "$native" | grep -E 'R(UN)?PATH' | grep -q "$tmp/prefix" \
  || { echo "install-check: _native has no rpath to $tmp/prefix:"; readelf -d "$native" | grep -E 'R(UN)?PATH|NEEDED'; exit 1; }
echo "install-check: passed"
