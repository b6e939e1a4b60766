#!/usr/bin/env bash
# fresh-check.sh [--programs-only] [--repo DIR]: proves that scripts/install-deps.sh is the only
# set-up this project needs, on a machine that has nothing else installed.
#
# In a throwaway systemd-nspawn container booted from a minimal Debian 12 root filesystem
# (debootstrap --variant=minbase plus git, make and ca-certificates only; built once and cached in
# /var/cache/liaison-fresh), it clones the repository's committed HEAD, runs
# `scripts/install-deps.sh bench` as the only set-up step, checks that every program
# scripts/host-programs.txt lists is then installed (scripts/check-host-programs.sh names the
# package and the target of each one missing), and then runs `make`, `make unit` and the fuzzers
# as `make test` runs them.
#
#   --programs-only  stops after the program check (no build): what the guard test runs.
#   --repo DIR       the git repository to clone (default: this one).
#
# Needs root and the Debian mirror (scripts/apt-mirror.sh: the one this machine's apt uses).
# Cold, it takes about 15 minutes on 2 cores (the root filesystem cached); with this machine's
# ccache warm from a build of the same commit, a few. Prints its time.
set -euo pipefail
# The whole script is one compound command, read before any of it runs: editing this file while a
# check is under way (it takes minutes) must not change what the running check does.
{

scripts="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$scripts/.." && pwd)"
programs_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --programs-only) programs_only=1 ;;
    --repo) repo=$(cd "${2:?--repo needs a directory}" && pwd); shift ;;
    *) echo "usage: $0 [--programs-only] [--repo DIR]" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "fresh-check: $*"; }
die() { echo "fresh-check: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn git flock mount; do
  command -v "$tool" >/dev/null || die "$tool missing: run scripts/install-deps.sh test first"
done
git -C "$repo" rev-parse --verify -q HEAD >/dev/null || die "$repo is not a git repository"
[[ -z $(git -C "$repo" status --porcelain --untracked-files=no) ]] ||
  say "note: $repo has uncommitted changes; the check clones its committed HEAD only"

started=$SECONDS
cache=/var/cache/liaison-fresh
mirror=$("$scripts/apt-mirror.sh")
proxy=$("$scripts/apt-mirror.sh" --proxy)
[[ -n $proxy && -z ${http_proxy:-} ]] && export http_proxy=$proxy
# Only what apt and git need to fetch this repository and the packages: everything else must
# come from install-deps.sh. The recipe's hash names the cached root filesystem.
base_packages=git,make,ca-certificates
recipe="bookworm minbase $base_packages"
rootfs="$cache/rootfs-$(sha256sum <<<"$recipe" | cut -c1-16)"

build_rootfs() {
  local partial="$rootfs.partial"
  say "building the minimal root filesystem (once, about a minute) from $mirror: $rootfs"
  rm -rf --one-file-system "$partial"
  if ! debootstrap --variant=minbase --include="$base_packages" bookworm "$partial" "$mirror" \
    >"$rootfs.log" 2>&1; then
    tail -20 "$rootfs.log" >&2
    rm -rf --one-file-system "$partial"
    die "debootstrap failed; full log in $rootfs.log"
  fi
  chroot "$partial" apt-get clean
  mv -T "$partial" "$rootfs"
}

mkdir -p "$cache"
exec 9>"$cache/lock"
flock -w 1200 9 || die "$cache/lock is held by another run"
[[ -d $rootfs ]] || build_rootfs
exec 9>&-

# Runs in the container, as root, in a clone of the repository. SECONDS times each step.
inside=$(
  cat <<'EOS'
set -euo pipefail
step() { echo "fresh-check: [container, ${SECONDS}s] $*"; }
record() { echo "$1=$2" >>/fresh-out/timings; }  # read by the host for cold-build.json
git config --global --add safe.directory '*'
# The clone sits where the repository sits on the host, so the compiler sees the same paths and
# a ccache entry of the host's build of the same sources is a hit here.
mkdir -p "$(dirname "$CLONE")"
git clone -q /src "$CLONE"
# Only root may enter it, as any clone in root's 0700 home: a test that runs something of the
# checkout as another user fails here as it would for a newcomer (issue 25).
chmod 0700 "$CLONE"
cd "$CLONE"
step "cloned $(git rev-parse --short HEAD); the only set-up: scripts/install-deps.sh bench"
record commit "$(git rev-parse --short HEAD)"
t=$SECONDS; scripts/install-deps.sh bench; record install_deps_s $((SECONDS - t))
step "checking every program scripts/host-programs.txt lists"
scripts/check-host-programs.sh bench
[[ $PROGRAMS_ONLY == 1 ]] && { step "all programs present (--programs-only: no build)"; exit 0; }
cache_counts() {  # hits misses
  ccache --print-stats 2>/dev/null | awk '
    $1 ~ /^(direct|preprocessed)_cache_hit$/ { hits += $2 } $1 == "cache_miss" { misses += $2 }
    END { print hits + 0, misses + 0 }'
}
step "make"
read -r hits_before misses_before < <(cache_counts)
t=$SECONDS; make; record make_s $((SECONDS - t))
read -r hits_after misses_after < <(cache_counts)
record build_steps "$(ninja -C build -t commands | wc -l)"
if [[ -n ${CCACHE_DIR:-} ]]; then
  record cache_hits $((hits_after - hits_before)); record compiled $((misses_after - misses_before))
else
  record cache_hits 0; record compiled all
fi
[[ -n ${CCACHE_DIR:-} ]] && step "compiler cache shared with the host: $((hits_after - hits_before))" \
  "hits, $((misses_after - misses_before)) compiled here"
step "make unit"
t=$SECONDS; make unit; record make_unit_s $((SECONDS - t))
step "the fuzzers, as make test runs them (clang++-16, libFuzzer, 5 s each)"
t=$SECONDS; scripts/run-tests.sh build fuzz; record fuzz_s $((SECONDS - t))
step "done"
EOS
)

# The container writes to an overlay in a scratch directory that is removed afterwards, as the e2e
# harness does: nspawn's --ephemeral needs a btrfs snapshot or a full copy, and registering a
# scope needs a system bus, which a CI machine without systemd as PID 1 does not have.
scratch=$(mktemp -d /var/tmp/liaison-fresh.XXXXXX)
cleanup() {
  mountpoint -q "$scratch/merged" && { umount "$scratch/merged" || umount --lazy "$scratch/merged"; }
  rm -rf --one-file-system "$scratch"
}
trap cleanup EXIT
mkdir "$scratch/upper" "$scratch/work" "$scratch/merged" "$scratch/out"
mount -t overlay overlay \
  -o "lowerdir=$rootfs,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/merged"

# The host's ccache, shared: after `make test` has built the same commit here the container's build
# is mostly cache hits, which cuts a cold 10-minute build to a few. It proves as much as a cold
# build: a hit needs the same compiler and the same bytes of every header (a missing -dev package
# is a missing header, then a compile that fails), and configure and every link run for real.
# CCACHE=no (or no ccache here) builds cold. WERROR (the Makefile's) is passed on: the flags must
# be the host build's for its entries to match, and CI wants the container's build quiet too.
ccache_binds=()
if [[ ${CCACHE:-auto} != no ]] && command -v ccache >/dev/null; then
  ccache_dir=$(ccache -k cache_dir)
  mkdir -p "$ccache_dir"
  ccache_binds=(--bind="$ccache_dir:/var/cache/host-ccache" --setenv=CCACHE_DIR=/var/cache/host-ccache)
  # ccache hashes the locale variables (they change the compiler's messages): the container's
  # must be the host's, or no entry of the host's build matches.
  for variable in LANG LC_ALL LC_CTYPE LC_MESSAGES; do
    [[ -n ${!variable:-} ]] && ccache_binds+=(--setenv="$variable=${!variable}")
  done
  say "sharing this machine's compiler cache $ccache_dir (CCACHE=no for a cold build)"
else
  ccache_binds=(--setenv=CCACHE=no)
fi

say "clone of $repo in a throwaway container of $rootfs"
status=0
systemd-nspawn --quiet --keep-unit --register=no --console=pipe -D "$scratch/merged" \
  --machine="fresh-${scratch##*.}" \
  --bind-ro="$repo:/src" --bind="$scratch/out:/fresh-out" \
  --setenv=CLONE="$repo" --setenv=PROGRAMS_ONLY="$programs_only" --setenv=WERROR="${WERROR:-OFF}" \
  "${ccache_binds[@]}" \
  ${http_proxy:+--setenv=http_proxy="$http_proxy"} \
  /bin/bash -c "$inside" || status=$?
elapsed=$((SECONDS - started))
if [[ $status -ne 0 ]]; then
  die "FAILED after $((elapsed / 60)) min $((elapsed % 60)) s (exit status $status; see above)"
fi
say "OK in $((elapsed / 60)) min $((elapsed % 60)) s"
[[ $programs_only == 1 ]] && exit 0

# What a fresh machine's first build costs, for docs/performance.md (bench/cold_build.py) and the
# README: kept only from a run that compiled everything itself (CCACHE=no, or no hit).
declare -A t=()
while IFS='=' read -r key value; do t[$key]=$value; done <"$scratch/out/timings"
if [[ ${t[cache_hits]:-1} == 0 ]]; then
  cat >"$cache/cold-build.json" <<EOJ
{"commit": "${t[commit]}", "date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "cpus": $(nproc),
 "cpu_model": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
 "install_deps_s": ${t[install_deps_s]}, "make_s": ${t[make_s]}, "build_steps": ${t[build_steps]},
 "make_unit_s": ${t[make_unit_s]}, "fuzz_s": ${t[fuzz_s]}, "total_s": $elapsed}
EOJ
  say "cold build recorded in $cache/cold-build.json (make bench puts it in docs/performance.md)"
else
  say "the build used ${t[cache_hits]} cache hits: not recorded as a cold build (CCACHE=no for one)"
fi
exit 0
}
