#!/usr/bin/env bash
# Installs what a project script needs, only when it is missing: the one place that knows how.
#
#   scripts/need.sh PKG...                 Debian packages, with apt-get (sudo when not root)
#   scripts/need.sh --npm DIR SPEC...      npm packages (name@version) into DIR/node_modules,
#                                          installing Debian's nodejs and npm first if needed
#
# Both forms may be combined: Debian packages first, then --npm and its arguments. Used by
# examples/run-demo.sh, tests/run.sh and perf/*.sh; exits non-zero when an install fails.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_missing=()
while [ $# -gt 0 ] && [ "$1" != "--npm" ]; do
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" || apt_missing+=("$1")
    shift
done

npm_dir=""
npm_missing=()
if [ $# -gt 0 ]; then # --npm DIR SPEC...
    [ $# -ge 3 ] || { echo "need.sh: --npm DIR SPEC..." >&2; exit 2; }
    npm_dir=$2
    shift 2
    for spec in "$@"; do
        name=${spec%@*}
        want=${spec##*@}
        # An absolute path: require() takes a relative one without ./ for a module name.
        have=$(node -p "require(require('path').resolve(process.argv[1])).version" \
            "$npm_dir/node_modules/$name/package.json" 2>/dev/null || true)
        [ "$have" = "$want" ] || npm_missing+=("$spec")
    done
    if [ ${#npm_missing[@]} -gt 0 ] && ! command -v npm >/dev/null; then
        apt_missing+=(nodejs npm)
    fi
fi

if [ ${#apt_missing[@]} -gt 0 ]; then
    echo "need.sh: installing ${apt_missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

if [ ${#npm_missing[@]} -gt 0 ]; then
    echo "need.sh: installing ${npm_missing[*]} into $npm_dir" >&2
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "${npm_missing[@]}" >&2
fi
