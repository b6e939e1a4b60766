#!/usr/bin/env bash
# Installs the Debian packages a make target needs, and says which, before it does.
# Usage: scripts/install-deps.sh build|unit|test|demo|bench|deb|tidy|fuzz|macos-check
#        scripts/install-deps.sh --list PROFILE   (prints the profile's packages, installs nothing)
# Profiles nest: build < unit < test (= demo) < bench. scripts/host-programs.txt names the program
# each package is for; `make fresh-check` proves on a minimal Debian 12 that the lists are whole.
set -euo pipefail

# The compiler, the libraries, and what the build itself runs (ccache: the Makefile uses it, and
# `make fresh-check` shares its cache with the container).
build_packages=(
  cmake ninja-build g++ pkg-config gzip ccache
  libsystemd-dev libssl-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libasio-dev
  libfmt-dev libgtest-dev libgmock-dev libtss2-dev
)
# What the unit tests (ctest) start: tests/docs (python3, groff, man), a private dbus-daemon with
# python-dbusmock as notification server, the TPM simulator (swtpm_setup manufactures one with EK
# certificates), openssl checking public keys, tpm2-tools checking attestation against an
# implementation not ours, and readelf checking what the binary links (tests/cli).
unit_packages=(python3 groff-base man-db openssl swtpm swtpm-tools tpm2-tools dbus python3-dbusmock
  binutils)
# The fuzzers (tests/fuzz, `make fuzz`; `make test` runs each for a few seconds): libFuzzer and
# the sanitizers' runtimes are clang's.
fuzz_packages=(clang-16 libclang-rt-16-dev)
# The end-to-end suite and the demo: a container with systemd+logind (systemd-nspawn, its root
# filesystem from debootstrap), pytest, the .deb test (dpkg-dev, binutils), the TPM tools, and
# python3-cryptography for the attestation CA the e2e tests play (tests/e2e/attestation_ca.py),
# python3-fido2 as the independent WebAuthn verifier of `key attest`.
test_packages=(
  dbus-user-session libnotify-bin python3-pytest systemd-container debootstrap socat
  python3-cryptography python3-fido2
  swtpm-tools tpm2-tools git dpkg-dev binutils util-linux mount
  "${fuzz_packages[@]}"
)
bench_packages=(libbenchmark-dev hyperfine)
# `make deb` (scripts/build-deb.sh): dpkg-shlibdeps, dpkg-deb, strip.
deb_packages=(dpkg-dev binutils)
# `make macos-check` (scripts/macos-check.sh): upstream clang for Apple targets, ld64.lld, and
# llvm-lipo/llvm-ar/llvm-nm; the build profile's headers and GoogleTest's sources come along.
macos_check_packages=(clang-16 lld-16 llvm-16)
# `make tidy` (scripts/run-tidy.sh): bookworm's clang-tidy 14 cannot parse C++23 <expected>; 16 can.
tidy_packages=(clang-tidy-16)

usage() {
  echo "usage: $0 build|unit|test|demo|bench|deb|tidy|fuzz|macos-check" >&2
  echo "       $0 --list PROFILE" >&2
  exit 2
}

packages_of() {
  case "$1" in
    build) echo "${build_packages[@]}" ;;
    unit) echo "${build_packages[@]}" "${unit_packages[@]}" ;;
    test | demo) echo "${build_packages[@]}" "${unit_packages[@]}" "${test_packages[@]}" ;;
    bench) echo "${build_packages[@]}" "${unit_packages[@]}" "${test_packages[@]}" \
      "${bench_packages[@]}" ;;
    deb) echo "${build_packages[@]}" "${deb_packages[@]}" ;;
    tidy) echo "${build_packages[@]}" "${tidy_packages[@]}" ;;
    fuzz) echo "${build_packages[@]}" "${fuzz_packages[@]}" ;;
    macos-check) echo "${build_packages[@]}" "${macos_check_packages[@]}" ;;
    *) usage ;;
  esac
}

if [[ ${1:-} == --list ]]; then
  [[ $# -eq 2 ]] || usage
  packages=$(packages_of "$2") || exit 2
  tr ' ' '\n' <<<"$packages"
  exit 0
fi

profile=${1:-build}
packages=$(packages_of "$profile") || exit 2
read -r -a wanted <<<"$packages"

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
