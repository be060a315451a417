#!/bin/sh
# memcheck.sh VALGRIND SUPPRESSIONS COMMAND [ARGS...]: runs a Criterion suite under memcheck.
# Criterion runs every test in a child process and ignores a child's exit status once the test
# has reported, so valgrind's --error-exitcode alone would let a leak inside a test pass. Each
# process therefore logs to its own file, and any "ERROR SUMMARY" above zero fails the run.
vg=$1
supp=$2
shift 2
dir=$(mktemp -d "${TMPDIR:-/tmp}/qk-memcheck.XXXXXX") || exit 1
"$vg" --tool=memcheck --trace-children=yes --error-exitcode=1 --leak-check=full \
    --suppressions="$supp" --log-file="$dir/vg.%p.log" "$@"
rc=$?
logs=$(ls "$dir"/vg.*.log 2>/dev/null | wc -l)
bad=$(grep -L "ERROR SUMMARY: 0 errors" "$dir"/vg.*.log 2>/dev/null)
status=0
if [ "$rc" -ne 0 ]; then
    echo "memcheck.sh: exit status $rc"
    status=1
fi
if [ "$logs" -lt 2 ]; then
    echo "memcheck.sh: only $logs process(es) traced; the tests' children were not followed"
    status=1
fi
if [ -n "$bad" ]; then
    for f in $bad; do
        echo "---- $f"
        cat "$f"
    done
    echo "memcheck.sh: memcheck found errors in $(echo "$bad" | wc -l) of $logs processes"
    status=1
fi
[ "$status" -eq 0 ] && echo "memcheck.sh: $logs processes clean"
rm -rf "$dir"
exit "$status"
