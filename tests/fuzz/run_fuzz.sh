#!/bin/sh
# Runs the state-file fuzzer for a bounded time from a freshly generated seed corpus.
# Usage: run_fuzz.sh MAKE_SEEDS FUZZER WORKDIR MODE SECONDS
# A finding is kept as WORKDIR/artifacts/crash-* (libFuzzer prints it and how to replay it:
# QK_FUZZ_MODE=MODE FUZZER WORKDIR/artifacts/crash-...).
set -eu
seeds=$1 fuzzer=$2 work=$3 mode=$4 secs=$5
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
"$seeds" "$work/corpus"
QK_FUZZ_MODE=$mode exec "$fuzzer" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus"
