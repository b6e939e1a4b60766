#!/usr/bin/env bash
# make macos-bundle: lays out what a Mac installs -- Liaison.app with the universal liaison, the
# daemon binary, the LaunchDaemon and LaunchAgent plists, the configuration -- as a payload tree
# (paths from /), plus the entitlements codesign needs, and packs both into a tarball with the
# owners and modes launchd demands (root:wheel, plists 0644). Signing, notarizing and building the
# installer package stay for a Mac: docs/macos.md, "Signing and packaging on a Mac".
# Usage: scripts/macos-bundle.sh BUILD_ROOT [BINARY]
#   BINARY defaults to BUILD_ROOT/liaison, the universal binary of make macos-check; the unit
#   tests pass another to check the layout where no macOS build exists.
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_root=${1:?usage: $0 BUILD_ROOT [BINARY]}
binary=${2:-$build_root/liaison}
if [[ ! -f $binary ]]; then
  if [[ -z ${2:-} && -z ${MACOS_SDK:-} ]]; then
    echo "macos-bundle: skipped: no macOS build (MACOS_SDK is not set)"
    exit 0
  fi
  echo "macos-bundle: $binary is missing (make macos-check builds it)" >&2
  exit 1
fi
version=$(sed -n 's/^project(liaison VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")

out=$build_root/bundle
root=$out/root
app=$root/Applications/Liaison.app
rm -rf "$out"
install -d -m 0755 "$app/Contents/MacOS" "$root/usr/local/bin" "$root/Library/LaunchDaemons" \
  "$root/Library/LaunchAgents" "$root/private/etc/liaison" "$out/signing"
install -m 0644 "$source_dir/packaging/macos/Info.plist" "$app/Contents/Info.plist"
install -m 0755 "$binary" "$app/Contents/MacOS/liaison"
# The daemon and CLI: a copy, signed on its own without the agent's entitlements (the daemon
# never touches the Secure Enclave).
install -m 0755 "$binary" "$root/usr/local/bin/liaison"
install -m 0644 "$source_dir/packaging/launchd/dev.liaison.daemon.plist" "$root/Library/LaunchDaemons/"
install -m 0644 "$source_dir/packaging/launchd/dev.liaison.agent.plist" "$root/Library/LaunchAgents/"
# /etc is a symlink to /private/etc on macOS: payloads carry the real path.
install -m 0644 "$source_dir/packaging/liaison.toml" "$root/private/etc/liaison/liaison.toml"
install -m 0644 "$source_dir/packaging/macos/liaison.entitlements" "$out/signing/"

tarball=$out/liaison-$version-macos.tar.gz
tar --create --gzip --file "$tarball" --owner=root:0 --group=wheel:0 --sort=name \
  --mtime=@0 --directory "$out" root signing
/usr/bin/python3 "$source_dir/tests/macos/check_bundle.py" --bundle "$out" --version "$version" \
  ${2:+--layout-only}
echo "macos-bundle: $tarball"
