#!/usr/bin/env bash
# The format gate: every C source and header of the project (include/ src/ config/ tests/ perf/
# examples/ and, when they exist, tools/ bindings/) must be exactly what clang-format writes
# with the repository's .clang-format. Lists the files that are not, with their diffs, and
# exits 1.
#
#   scripts/check-format.sh [CLANG_FORMAT]     default: clang-format-14, else clang-format
#
# Registered as the ctest test `format` (label `format`, tests/CMakeLists.txt), so tests/run.sh
# main runs it. Fix a file with: clang-format -i FILE
set -euo pipefail
cd "$(dirname "$0")/.."

cf=${1:-$(command -v clang-format-14 || command -v clang-format || true)}
[ -n "$cf" ] || { echo "check-format: no clang-format (scripts/need.sh clang-format)" >&2; exit 2; }

dirs=()
for d in include src config tests perf examples tools bindings; do
    [ -d "$d" ] && dirs+=("$d")
done

# In a git checkout, the tracked and untracked-but-not-ignored files (never build outputs);
# otherwise every file under the directories.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -co --exclude-standard -- "${dirs[@]}" | grep -E '\.[ch]$' |
        LC_ALL=C sort -u)
else
    mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
fi

bad=()
for f in "${files[@]}"; do
    [ -f "$f" ] || continue # tracked but deleted in the working tree
    "$cf" --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done

if [ ${#bad[@]} -gt 0 ]; then
    echo "check-format: ${#bad[@]} of ${#files[@]} files are not clang-formatted ($("$cf" --version)):"
    printf '  %s\n' "${bad[@]}"
    for f in "${bad[@]}"; do
        echo "--- $f (as it is) / +++ (as clang-format writes it)"
        "$cf" --style=file "$f" | diff -u "$f" - | tail -n +3 | head -n 40 || true
    done
    echo "check-format: fix with: clang-format -i ${bad[*]}"
    exit 1
fi
echo "check-format: ${#files[@]} files clang-formatted"
