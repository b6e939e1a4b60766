#!/usr/bin/env bash
# Installs the Debian packages a make target needs, and says which, before it does.
# Usage: scripts/install-deps.sh build|test|demo|bench|deb|tidy
set -euo pipefail

build_packages=(
  cmake ninja-build g++ pkg-config
  libsystemd-dev libssl-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libasio-dev
  libfmt-dev libgtest-dev libgmock-dev libtss2-dev
  # the man-page, completion and docs tests that ctest runs (tests/docs)
  python3 groff-base man-db
)
# Real parts for the tests: session buses, notification servers, a container with systemd+logind.
test_packages=(
  dbus dbus-user-session libnotify-bin python3-pytest python3-dbusmock
  systemd-container debootstrap socat swtpm swtpm-tools tpm2-tools
  # test_deb.py builds the .deb (scripts/build-deb.sh)
  dpkg-dev binutils
)
bench_packages=(libbenchmark-dev hyperfine)
# `make deb` (scripts/build-deb.sh): dpkg-shlibdeps, dpkg-deb, strip.
deb_packages=(dpkg-dev binutils)
# `make tidy` (scripts/run-tidy.sh): bookworm's clang-tidy 14 cannot parse C++23 <expected>; 16 can.
tidy_packages=(clang-tidy-16)

profile=${1:-build}
wanted=("${build_packages[@]}")
case "$profile" in
  build) ;;
  test | demo) wanted+=("${test_packages[@]}") ;;
  bench) wanted+=("${test_packages[@]}" "${bench_packages[@]}") ;;
  deb) wanted+=("${deb_packages[@]}") ;;
  tidy) wanted+=("${tidy_packages[@]}") ;;
  *) echo "usage: $0 build|test|demo|bench|deb|tidy" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "liaison: missing Debian packages: ${missing[*]}" >&2
  echo "liaison: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "liaison: installing Debian packages for '$profile': ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "liaison: installed ${#missing[@]} packages"
