#!/bin/bash
# e2e-rootfs.sh OUT_DIR: builds the Debian 12 root filesystem the end-to-end tests boot with
# systemd-nspawn: systemd + logind + PAM, an X11 desktop (Xvfb + dunst), a Wayland desktop
# (headless sway + mako), the libraries liaison links against, and three users:
#   alice (1001), bob (1002), carol (1003; the tests never put her in group liaison).
# Everything under tests/e2e/rootfs/ is copied in (session programs, desktop configs).
#
# It builds into OUT_DIR.partial and renames that to OUT_DIR only when everything worked, so a
# killed build is never used. Needs root and network access to the Debian mirror: the one this
# machine's apt uses, through apt's proxy if it has one (scripts/apt-mirror.sh; $E2E_MIRROR
# overrides it). Takes 1-2 minutes.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
out=$1
partial="$out.partial"
scripts="$(cd "$(dirname "$0")" && pwd)"
overlay_src="$scripts/../tests/e2e/rootfs"
mirror=$("$scripts/apt-mirror.sh")
proxy=$("$scripts/apt-mirror.sh" --proxy)
if [ -n "$proxy" ] && [ -z "${http_proxy:-}" ]; then
    export http_proxy=$proxy
fi

packages=(
    # a booting systemd with logind, PAM sessions and user session buses
    systemd systemd-sysv dbus dbus-user-session libpam-systemd procps
    # desktops and notification clients; gdbus waits for a bus name without polling
    xvfb xauth dunst sway mako-notifier libnotify-bin libglib2.0-bin
    # the tests' own tools (openssl verifies key signatures)
    python3 socat openssl
    # presence checks (issue 26): polkitd, and the tests' authentication agent (Python over the
    # system bus, PAM through polkit's own helper)
    polkitd python3-dbus python3-gi
    # what liaison links against at run time
    libfmt9 libspdlog1.10 libtomlplusplus3 libssl3
    libtss2-esys-3.0.2-0 libtss2-mu0 libtss2-rc0 libtss2-tctildr0 libtss2-tcti-swtpm0 libtss2-tcti-device0
)

step() { echo "e2e-rootfs: $*"; }

in_root() { chroot "$partial" "$@"; }

cleanup_partial() {
    # shellcheck disable=SC2181  # we want the status the script is exiting with
    if [ $? -ne 0 ]; then
        step "failed; removing $partial"
        rm -rf --one-file-system "$partial"
    fi
}

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 1; }
[ -d "$overlay_src" ] || { echo "$0: $overlay_src is missing" >&2; exit 1; }
rm -rf --one-file-system "$partial"
trap cleanup_partial EXIT

step "debootstrap bookworm (minbase) from $mirror${http_proxy:+ through $http_proxy} into $partial"
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
    bookworm "$partial" "$mirror"

step "one notification server per session, started by the session itself"
# D-Bus activation would start dunst (or mako) for whoever calls Notify first: in a Wayland
# session before mako is up, or for a process that should have failed to notify.
rm -f "$partial/usr/share/dbus-1/services/fr.emersion.mako.service" \
      "$partial/usr/share/dbus-1/services/org.knopwob.dunst.service"
in_root systemctl --global disable mako.service

step "users alice (1001), bob (1002), carol (1003)"
in_root useradd --create-home --uid 1001 --user-group --shell /bin/bash alice
in_root useradd --create-home --uid 1002 --user-group --shell /bin/bash bob
in_root useradd --create-home --uid 1003 --user-group --shell /bin/bash carol

step "locale for PAM sessions, session programs and desktop configs"
echo 'LANG=C.UTF-8' > "$partial/etc/default/locale"
cp -a "$overlay_src/." "$partial/"
chown -R root:root "$partial/usr/local"

step "trimming apt caches"
in_root apt-get clean
rm -rf "$partial/var/lib/apt/lists/"*

mv -T "$partial" "$out"
trap - EXIT
step "done: $out"
