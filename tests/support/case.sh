# What a shell test case needs (tests/cli/cli.sh, tests/demo/demo.sh), sourced once case_name
# is set: a scratch directory the case runs in, removed at exit; background processes killed at
# exit (add their pids to bg_pids); checks that count failures rather than stop at the first.
#
#   fail MSG                  one failure
#   run RC CMD...             runs CMD with stdout in out.txt and stderr in err.txt, expects RC;
#                             then calls the function named in after_run, if any
#   has FILE TEXT / lacks FILE TEXT
#
# The case ends with `exit $((failures > 0))` (or its own summary) after its checks.
work=$(mktemp -d "${TMPDIR:-/tmp}/qk-${case_kind:-case}-XXXXXX")
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 2

failures=0
fail() { echo "FAIL [$case_name]: $*" >&2; failures=$((failures + 1)); }

run() {
    local want=$1; shift
    "$@" >out.txt 2>err.txt
    local got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, wanted $want; stderr: $(head -c 600 err.txt)"
    [ -z "${after_run:-}" ] || "$after_run"
}
has() { grep -qF -- "$2" "$1" || fail "$1 lacks '$2': $(head -c 1500 "$1")"; }
lacks() { ! grep -qF -- "$2" "$1" || fail "$1 has '$2': $(grep -F -- "$2" "$1" | head -3)"; }
