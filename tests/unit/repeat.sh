#!/bin/sh
# repeat.sh COUNT EXPECT COMMAND [ARGS...]: runs COMMAND COUNT consecutive times and stops at
# the first run that fails or whose output lacks the text EXPECT (so a filter that matches no
# test cannot pass), showing that run's output. Used for the spec's "100 consecutive runs"
# (SC-001).
count=$1
expect=$2
shift 2
i=0
while [ "$i" -lt "$count" ]; do
    i=$((i + 1))
    if ! out=$("$@" 2>&1); then
        printf '%s\n' "$out"
        echo "repeat.sh: run $i of $count failed"
        exit 1
    fi
    case $out in
    *"$expect"*) ;;
    *)
        printf '%s\n' "$out"
        echo "repeat.sh: run $i of $count did not print '$expect'"
        exit 1
        ;;
    esac
done
echo "repeat.sh: $count of $count runs passed"
