#!/usr/bin/env bash
# fresh-check.sh [--programs-only] [--repo DIR]: proves that scripts/install-deps.sh is the only
# set-up this project needs, on a machine that has nothing else installed.
#
# In a throwaway systemd-nspawn container booted from a minimal Debian 12 root filesystem
# (debootstrap --variant=minbase plus git, make and ca-certificates only; built once and cached in
# /var/cache/liaison-fresh), it clones the repository's committed HEAD, runs
# `scripts/install-deps.sh bench` as the only set-up step, checks that every program
# scripts/host-programs.txt lists is then installed (scripts/check-host-programs.sh names the
# package and the target of each one missing), and then runs `make` and `make unit`.
#
#   --programs-only  stops after the program check (no build): what the guard test runs.
#   --repo DIR       the git repository to clone (default: this one).
#
# Needs root and the Debian mirror (scripts/apt-mirror.sh: the one this machine's apt uses).
# Takes about 15 minutes on 2 cores when the root filesystem is cached; prints its time.
set -euo pipefail

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
git config --global --add safe.directory '*'
git clone -q /src /fresh/liaison
cd /fresh/liaison
step "cloned $(git rev-parse --short HEAD); the only set-up: scripts/install-deps.sh bench"
scripts/install-deps.sh bench
step "checking every program scripts/host-programs.txt lists"
scripts/check-host-programs.sh bench
[[ $PROGRAMS_ONLY == 1 ]] && { step "all programs present (--programs-only: no build)"; exit 0; }
step "make"
make
step "make unit"
make unit
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
mkdir "$scratch/upper" "$scratch/work" "$scratch/merged"
mount -t overlay overlay \
  -o "lowerdir=$rootfs,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/merged"

say "clone of $repo in a throwaway container of $rootfs"
status=0
systemd-nspawn --quiet --keep-unit --register=no --console=pipe -D "$scratch/merged" \
  --machine="fresh-${scratch##*.}" \
  --bind-ro="$repo:/src" --setenv=PROGRAMS_ONLY="$programs_only" \
  ${http_proxy:+--setenv=http_proxy="$http_proxy"} \
  /bin/bash -c "$inside" || status=$?
elapsed=$((SECONDS - started))
if [[ $status -ne 0 ]]; then
  die "FAILED after $((elapsed / 60)) min $((elapsed % 60)) s (exit status $status; see above)"
fi
say "OK in $((elapsed / 60)) min $((elapsed % 60)) s"
