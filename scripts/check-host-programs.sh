#!/usr/bin/env bash
# check-host-programs.sh PROFILE: checks that every program scripts/host-programs.txt lists for
# PROFILE (and the profiles below it: build < unit < test < bench) is on this machine. Prints one
# line per missing program, naming the Debian package, the profile that must install it and what
# needs it, and exits 1; exits 0 when all are there. The e2e harness and the benchmarks run it
# before they start, and `make fresh-check` runs it in its minimal container.
set -euo pipefail

list="$(cd "$(dirname "$0")" && pwd)/host-programs.txt"
declare -A rank=([build]=0 [unit]=1 [test]=2 [demo]=2 [bench]=3)
profile=${1:-}
if [[ -z $profile || -z ${rank[$profile]+set} ]]; then
  echo "usage: $0 build|unit|test|demo|bench" >&2
  exit 2
fi
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

present() {
  local program=$1
  if [[ $program == python3:* ]]; then
    /usr/bin/python3 -c "import ${program#python3:}" 2>/dev/null
  else
    command -v "$program" >/dev/null
  fi
}

missing=0
while read -r program package needed_in needed_by; do
  [[ -z $program || $program == \#* ]] && continue
  if [[ -z ${rank[$needed_in]+set} ]]; then
    echo "$list: unknown profile '$needed_in' for $program" >&2
    exit 2
  fi
  ((rank[$needed_in] <= rank[$profile])) || continue
  if ! present "$program"; then
    echo "liaison: $program missing: install $package" \
      "(scripts/install-deps.sh profile '$needed_in', needed by $needed_by)" >&2
    missing=$((missing + 1))
  fi
done <"$list"

if ((missing > 0)); then
  echo "liaison: $missing program(s) of profile '$profile' missing; add each package to" \
    "scripts/install-deps.sh, or run it: scripts/install-deps.sh $profile" >&2
  exit 1
fi
