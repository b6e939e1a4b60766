#!/usr/bin/env bash
# build-deb.sh BUILD_DIR OUT_DIR: builds the liaison .deb from a built CMake tree and prints its
# path (the only line on stdout; progress goes to stderr).
#
# Whatever the CMake install rules install is packaged: the tree is staged with
# `DESTDIR=STAGE cmake --install BUILD_DIR --prefix /usr`, so a file added to the install rules
# lands in the package without a change here. Around that, packaging/debian/ gives the control
# template, the maintainer scripts, the conffiles and the copyright. ELF files are stripped in the
# stage (the build's own binary keeps its debug info); Depends comes from dpkg-shlibdeps; the
# version is the project version the build was configured with, plus a Debian revision
# ($DEB_REVISION, default 1). Needs dpkg-dev and binutils (scripts/install-deps.sh deb). Runs
# lintian when it is installed (unless DEB_LINTIAN=no) and shows what it says, without failing.
set -euo pipefail

say() { echo "build-deb: $*" >&2; }
die() { echo "build-deb: $*" >&2; exit 1; }

if [[ $# -ne 2 ]]; then
    echo "usage: $0 BUILD_DIR OUT_DIR" >&2
    exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
sources="$repo/packaging/debian"
build_dir=$(realpath -e "$1") || die "no build directory $1"
mkdir -p "$2"
out_dir=$(realpath -e "$2")

for tool in cmake dpkg-deb dpkg-shlibdeps dpkg-architecture strip; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh deb installs it)"
done
cache="$build_dir/CMakeCache.txt"
[[ -f "$cache" ]] || die "$build_dir is not a configured CMake build (no CMakeCache.txt)"
upstream=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$cache")
[[ -n "$upstream" ]] || die "no CMAKE_PROJECT_VERSION in $cache"
version="$upstream-${DEB_REVISION:-1}"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
package=liaison
deb="$out_dir/${package}_${version}_${arch}.deb"

# Reproducible: file times and the changelog date come from the last commit.
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

umask 022
work=$(mktemp -d "$out_dir/.build-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage="$work/src/debian/$package"

say "staging $build_dir (cmake --install, prefix /usr)"
DESTDIR="$stage" cmake --install "$build_dir" --prefix /usr >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; die "cmake --install failed (is $build_dir built?)"; }

# The layout DESIGN.md promises; a build configured with another prefix puts files elsewhere.
for expected in usr/bin/liaison usr/lib/liaison/liaison-daemon.so usr/lib/liaison/liaison-agent.so \
                usr/lib/liaison/liaison-agent-keys.so \
                usr/lib/systemd/system/liaison.service \
                usr/lib/systemd/user/liaison-agent.service usr/lib/sysusers.d/liaison.conf \
                usr/share/polkit-1/actions/dev.liaison.presence.policy \
                etc/liaison/liaison.toml; do
    [[ -e "$stage/$expected" ]] ||
        die "the install rules put no /$expected in the stage (configure with -DCMAKE_INSTALL_PREFIX=/usr)"
done
[[ ! -e "$stage/usr/local" ]] || die "the install rules put files under /usr/local"

say "stripping ELF files (debug info stays in $build_dir)"
elf_files=()
while IFS= read -r -d '' file; do
    if [[ $(head -c 4 "$file" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; then
        strip --strip-unneeded --remove-section=.comment --remove-section=.note "$file"
        elf_files+=("$file")
    fi
done < <(find "$stage" -type f -print0)
[[ ${#elf_files[@]} -gt 0 ]] || die "no ELF file in the stage"

doc="$stage/usr/share/doc/$package"
install -d -m 0755 "$doc"
install -m 0644 "$sources/copyright" "$doc/copyright"
install -d -m 0755 "$stage/usr/share/lintian/overrides"
install -m 0644 "$sources/lintian-overrides" "$stage/usr/share/lintian/overrides/$package"
commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
{
    echo "$package ($version) unstable; urgency=medium"
    echo
    echo "  * Built from the liaison repository at commit $commit."
    echo
    echo " -- $(sed -n 's/^Maintainer: //p' "$sources/control.in")  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"
# No group or other write bit anywhere (cmake --install follows the umask for directories).
chmod -R go-w "$stage"

say "computing Depends (dpkg-shlibdeps)"
# dpkg-shlibdeps wants a debian/control (a minimal one is enough) and the tree's DEBIAN/.
control="$stage/DEBIAN"
install -d -m 0755 "$control"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$package" "$package" \
    >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "${elf_files[@]/#/-e}" | sed -n 's/^shlibs:Depends=//p')
[[ -n "$shlibs" ]] || die "dpkg-shlibdeps found no library dependencies"

say "writing the control files"
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
grep -v '^#' "$sources/control.in" |
    sed -e "s|\${binary:Version}|$version|" -e "s|\${Arch}|$arch|" \
        -e "s|\${Installed-Size}|$installed_size|" -e "s|\${shlibs:Depends}|$shlibs|" \
        >"$control/control"
# shellcheck disable=SC2016  # a literal ${: a field control.in has that nothing filled in
if grep -nF '${' "$control/control" >&2; then die "unfilled fields in control.in"; fi

# conffiles: the listed ones, which must all be installed, and (as dh_installdeb does) every other
# file under /etc, said out loud so that it gets listed.
cp "$sources/conffiles" "$control/conffiles"
while IFS= read -r conffile; do
    [[ -f "$stage$conffile" ]] || die "conffile $conffile (packaging/debian/conffiles) is not installed"
done <"$sources/conffiles"
while IFS= read -r file; do
    file="/${file#"$stage"/}"
    if ! grep -qxF "$file" "$sources/conffiles"; then
        say "note: $file is under /etc: marked as a conffile (list it in packaging/debian/conffiles)"
        echo "$file" >>"$control/conffiles"
    fi
done < <(find "$stage/etc" -type f | sort)

for script in postinst prerm postrm; do
    install -m 0755 "$sources/$script" "$control/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
    grep -vxF -f <(sed 's|^/||' "$control/conffiles") | xargs -r -d '\n' md5sum) \
    >"$control/md5sums"
chmod 0644 "$control/control" "$control/conffiles" "$control/md5sums"

say "building $deb"
rm -f "$deb"
dpkg-deb --build --root-owner-group "$stage" "$deb" >&2

if [[ "${DEB_LINTIAN:-yes}" != no ]] && command -v lintian >/dev/null; then
    say "lintian says (not fatal; DEB_LINTIAN=no skips it):"
    lintian --info "$deb" >&2 || true
fi
echo "$deb"
