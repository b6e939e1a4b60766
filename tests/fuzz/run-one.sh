#!/bin/sh
# run-one.sh FUZZER SEEDS SCRATCH SECONDS: runs FUZZER for SECONDS over the seed corpus SEEDS,
# writing what it finds to SCRATCH (emptied first), and prints one line of figures:
#   <name> executions=<n> seconds=<s> crashes=<k>
# Exits non-zero if the fuzzer found a crash, a leak or a sanitizer report (libFuzzer's status).
set -u
fuzzer=$1 seeds=$2 scratch=$3 seconds=$4
rm -rf "$scratch" && mkdir -p "$scratch/new" "$scratch/artifacts"
log=$scratch/log
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$scratch/artifacts/" "$scratch/new" "$seeds" >"$log" 2>&1
status=$?
executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
crashes=$(find "$scratch/artifacts" -type f | wc -l)
echo "$(basename "$fuzzer") executions=${executions:-0} seconds=$seconds crashes=$crashes"
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  ls "$scratch/artifacts"
fi
exit "$status"
