#!/usr/bin/env bash
# Runs the unit tests (ctest) and/or the end-to-end tests (pytest) and closes with one line of
# totals, "total: N passed, N failed", counted from the runners' own reports.
# Usage: scripts/run-tests.sh BUILD_DIR unit|e2e|fuzz|all
# fuzz: the libFuzzer harnesses of tests/fuzz, built with clang in BUILD_DIR-fuzz, each run for a
# few seconds over its seed corpus (`make fuzz` runs them for long).
set -uo pipefail
build_dir=${1:?build dir}
which=${2:-all}
passed=0
failed=0
status=0

run_unit() {
  count_ctest "$build_dir" "$build_dir/unit-tests.log"
}

run_fuzz() {
  if ! scripts/run-fuzzers.sh "$build_dir-fuzz" build; then
    failed=$((failed + 1))
    status=1
    return
  fi
  count_ctest "$build_dir-fuzz" "$build_dir-fuzz/fuzz-tests.log"
}

# Runs ctest in $1, logging to $2, and adds its counts to the totals.
count_ctest() {
  local dir=$1 log=$2
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 196"
  local line total bad
  line=$(grep -E 'tests failed out of [0-9]+' "$log" | tail -1)
  bad=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$line")
  if [[ -z "$line" ]]; then bad=1; total=1; fi
  passed=$((passed + total - bad))
  failed=$((failed + bad))
  [[ $rc -eq 0 ]] || status=1
}

run_e2e() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "e2e: skipped: the end-to-end tests boot a systemd-nspawn container and need root" >&2
    return
  fi
  local junit="$build_dir/e2e-junit.xml"
  rm -f "$junit"
  /usr/bin/python3 -m pytest tests/e2e -v -p no:cacheprovider --liaison-build-dir "$build_dir" \
    --junitxml "$junit"
  local rc=$?
  if [[ -f "$junit" ]]; then
    # Counted from the JUnit report: tests minus failures, errors and skips.
    read -r tests failures errors skipped < <(/usr/bin/python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) for s in suites)
e = sum(int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(t, f, e, k)
PY
)
    passed=$((passed + tests - failures - errors - skipped))
    failed=$((failed + failures + errors))
  else
    failed=$((failed + 1))
  fi
  [[ $rc -eq 0 ]] || status=1
}

case "$which" in
  unit) run_unit ;;
  e2e) run_e2e ;;
  fuzz) run_fuzz ;;
  all) run_unit; run_fuzz; run_e2e ;;
  *) echo "usage: $0 BUILD_DIR unit|e2e|fuzz|all" >&2; exit 2 ;;
esac
echo
echo "total: $passed passed, $failed failed"
exit $status
