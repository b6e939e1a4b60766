#!/usr/bin/env bash
# Runs clang-tidy (Debian's clang-tidy-16, .clang-tidy's checks) over the sources and closes with
# one line, "tidy: N warnings in M files"; exits non-zero when there is any warning or error.
# Usage: scripts/run-tidy.sh BUILD_DIR [files...]   (default: git ls-files 'src/*.cpp')
#
# Why these flags: the build says -std=c++23, which clang 16 calls c++2b; and libstdc++ 12's
# <expected> is only declared when __cpp_concepts >= 202002L, which clang 16 (201907L) does not
# claim although it parses that header, so the macro is replaced (-U first: no redefinition note).
# Asio 1.22 turns co_await support on for clang only with <experimental/coroutine> (libc++), so
# ASIO_HAS_CO_AWAIT is said outright, as g++ gets it. A run that takes over 10 minutes is cut off.
# Files the build does not compile here (Apple-only, absent from compile_commands.json) are skipped.
set -uo pipefail
build_dir=${1:?usage: $0 BUILD_DIR [files...]}
shift
cd "$(dirname "$0")/.."

scripts/install-deps.sh tidy || exit 1
tidy=clang-tidy-16
db="$build_dir/compile_commands.json"
if [[ ! -f "$db" ]]; then
  echo "tidy: no $db; configure first (make configure BUILD_DIR=$build_dir)" >&2
  exit 2
fi

if [[ $# -gt 0 ]]; then files=("$@"); else mapfile -t files < <(git ls-files 'src/*.cpp'); fi
# Keep only what compile_commands.json compiles (the Apple-only sources are not in it on Linux).
mapfile -t files < <(/usr/bin/python3 - "$db" "$PWD" "${files[@]}" <<'PY'
import json, os, sys
db, root, files = sys.argv[1], sys.argv[2], sys.argv[3:]
known = {os.path.realpath(os.path.join(e["directory"], e["file"])) for e in json.load(open(db))}
for f in files:
    if os.path.realpath(os.path.join(root, f)) in known:
        print(f)
    else:
        print(f"tidy: skipped {f} (not in compile_commands.json)", file=sys.stderr)
PY
)
[[ ${#files[@]} -gt 0 ]] || { echo "tidy: no files to check" >&2; exit 2; }

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# The build's precompiled headers are GCC's (cmake/precompiled_headers.cmake), which clang cannot
# read: clang-tidy gets the compile commands without them, in a database of its own.
/usr/bin/python3 - "$db" "$logs/compile_commands.json" <<'PY'
import json, re, sys
entries = json.load(open(sys.argv[1]))
for entry in entries:
    entry["command"] = re.sub(r" -Winvalid-pch| -include \S*cmake_pch\.hxx", "", entry["command"])
json.dump(entries, open(sys.argv[2], "w"))
PY
echo "tidy: $tidy over ${#files[@]} files (2 at a time)"
printf '%s\n' "${files[@]}" | xargs -P2 -I{} sh -c '
  log="$1/$(printf %s "$2" | tr / _).log"
  timeout 600 '"$tidy"' -p "$1" --quiet --extra-arg=-std=c++2b --extra-arg=-U__cpp_concepts \
    --extra-arg=-D__cpp_concepts=202002L --extra-arg=-DASIO_HAS_CO_AWAIT=1 "$2" >"$log" 2>&1
  echo $? >"$log.rc"' "$build_dir" "$logs" {}

# A header's warning shows once per file that includes it: print and count each one once.
cat "$logs"/*.log | grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' |
  awk '/^[^ ].*:[0-9]+:[0-9]+: (warning|error):/ { seen_it = ($0 in seen); seen[$0] = 1 }
       !seen_it { print }' >"$logs/all.txt"
cat "$logs/all.txt"
warnings=$(grep -cE '^[^ ].*:[0-9]+:[0-9]+: warning:' "$logs/all.txt")
errors=$(grep -cE '^[^ ].*:[0-9]+:[0-9]+: error:' "$logs/all.txt")
failed=$(grep -Lx 0 "$logs"/*.rc | wc -l)
in_files=$(grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error):' "$logs/all.txt" | cut -d: -f1 | sort -u |
  wc -l)
echo "tidy: $warnings warnings, $errors errors in $in_files files ($failed runs failed)"
[[ $warnings -eq 0 && $errors -eq 0 && $failed -eq 0 ]]
