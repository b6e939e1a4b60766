#!/usr/bin/env bash
# The fuzzers of tests/fuzz (libFuzzer, ASan + UBSan), built with clang++-16 in their own build
# directory (the product builds with g++).
# Usage: scripts/run-fuzzers.sh FUZZ_BUILD_DIR build
#          configures and builds every harness (make test then runs `ctest` there: 5 s each)
#        scripts/run-fuzzers.sh FUZZ_BUILD_DIR run SECONDS [DOCS]
#          builds, runs each harness SECONDS (two at a time) over its seed corpus, prints
#          executions and crashes per harness and, with DOCS, writes that table into DOCS between
#          its "fuzz figures" markers. Exits non-zero if any harness found a crash; the input is
#          kept in FUZZ_BUILD_DIR/scratch/<harness>/artifacts.
set -euo pipefail
build_dir=${1:?fuzz build dir}
what=${2:-build}
source_dir=$(cd "$(dirname "$0")/.." && pwd)

build() {
  command -v clang++-16 >/dev/null || {
    echo "run-fuzzers: clang++-16 missing: run scripts/install-deps.sh fuzz" >&2
    exit 1
  }
  if [[ ! -f "$build_dir/build.ninja" ]]; then
    cmake -S "$source_dir/tests/fuzz" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 \
      $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
  fi
  cmake --build "$build_dir"
}

# Symbolized reports where a symbolizer is installed (llvm-16's or clang-14's).
for symbolizer in llvm-symbolizer-16 llvm-symbolizer-14 llvm-symbolizer; do
  if command -v "$symbolizer" >/dev/null; then
    export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v "$symbolizer")}
    break
  fi
done

case "$what" in
  build) build ;;
  run)
    seconds=${3:?seconds per harness}
    docs=${4:-}
    build
    harnesses=$(cd "$build_dir" && ls ./*_fuzzer | sed 's|^\./||; s|_fuzzer$||')
    results=$build_dir/results.txt
    : >"$results"
    status=0
    # Two at a time (CI and these machines have two cores); each prints one line of figures.
    xargs -P 2 -I{} sh -c '"$0/tests/fuzz/run-one.sh" "$1/{}_fuzzer" "$0/tests/fuzz/corpus/{}" \
        "$1/scratch/{}" "$2" >>"$3" 2>&1 || echo "{}_fuzzer FAILED" >>"$3"' \
      "$source_dir" "$build_dir" "$seconds" "$results" <<<"$harnesses" || status=1
    grep -q FAILED "$results" && status=1
    table=$(/usr/bin/python3 - "$results" "$seconds" "$source_dir/tests/fuzz/corpus" <<'PY'
import os, re, sys, datetime
results, seconds, corpora = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows, total = [], 0
for line in open(results):
    m = re.match(r"(\S+)_fuzzer executions=(\d+) seconds=\d+ crashes=(\d+)", line)
    if m:
        name, runs, crashes = m.group(1), int(m.group(2)), int(m.group(3))
        seeds = len(os.listdir(os.path.join(corpora, name)))
        rows.append(f"| `{name}` | {seeds} | {runs:,} | {crashes} |")
        total += runs
print(f"{datetime.date.today()}, {seconds} s per harness, two at a time (`make fuzz`):\n")
print("| harness | seeds | executions | crashes |\n|---|---|---|---|")
print("\n".join(sorted(rows)))
print(f"| all | | **{total:,}** | |")
PY
)
    echo "$table"
    if [[ -n "$docs" ]]; then
      /usr/bin/python3 - "$docs" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- fuzz figures: begin -->", "<!-- fuzz figures: end -->"
head, rest = text.split(begin)
_, tail = rest.split(end)
open(path, "w").write(f"{head}{begin}\n{table}\n{end}{tail}")
PY
      echo "run-fuzzers: figures written to $docs"
    fi
    exit $status
    ;;
  *) echo "usage: $0 FUZZ_BUILD_DIR build|run SECONDS [DOCS]" >&2; exit 2 ;;
esac
