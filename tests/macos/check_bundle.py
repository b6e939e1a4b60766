#!/usr/bin/python3
"""Checks what scripts/macos-bundle.sh laid out: every file a Mac install needs is there with the
mode launchd and codesign expect, every plist parses, and every path a plist names exists in the
payload. Run by macos-bundle.sh itself and, with a stand-in binary, by ctest (macos.bundle).

Without --layout-only the liaison binaries must also be universal Mach-O files (arm64 and x86_64),
as make macos-check builds them.
"""
import argparse
import plistlib
import xml.parsers.expat
import stat
import struct
import sys
import tarfile
from pathlib import Path

APP = "Applications/Liaison.app"
EXPECTED_MODES = {
    f"{APP}/Contents/Info.plist": 0o644,
    f"{APP}/Contents/MacOS/liaison": 0o755,
    "usr/local/bin/liaison": 0o755,
    "Library/LaunchDaemons/dev.liaison.daemon.plist": 0o644,
    "Library/LaunchAgents/dev.liaison.agent.plist": 0o644,
    "private/etc/liaison/liaison.toml": 0o644,
}

problems = []


def expect(condition, message):
    if not condition:
        problems.append(message)
    return condition


def load_plist(path):
    try:
        with open(path, "rb") as f:
            return plistlib.load(f)
    except (OSError, plistlib.InvalidFileException, ValueError,
            xml.parsers.expat.ExpatError) as error:
        problems.append(f"{path}: does not parse as a plist: {error}")
        return {}


def check_job(root, relative, label):
    """A launchd job: its label is its file name, and the program it runs is in the payload."""
    job = load_plist(root / relative)
    expect(job.get("Label") == label, f"{relative}: Label {job.get('Label')!r}, wanted {label!r}")
    arguments = job.get("ProgramArguments", [])
    if expect(arguments and arguments[0].startswith("/"), f"{relative}: no absolute program"):
        program = root / arguments[0].lstrip("/")
        expect(program.is_file() and program.stat().st_mode & 0o111,
               f"{relative}: runs {arguments[0]}, which is not an executable in the payload")
    return job


# Mach-O's cputype values (<mach/machine.h>) of the two architectures a universal liaison holds.
CPU_TYPES = {0x0100000C: "arm64", 0x01000007: "x86_64"}


def mach_o_architectures(path):
    """The architectures of a Mach-O file, read from its header (no llvm-lipo needed): a fat
    file's big-endian fat_arch table, or a thin 64-bit file's cputype; [] for anything else."""
    with open(path, "rb") as f:
        header = f.read(8 + 20 * 8)
    if len(header) < 8:
        return []
    magic = struct.unpack(">I", header[:4])[0]
    if magic == 0xCAFEBABE:  # FAT_MAGIC: nfat_arch entries of 5 big-endian words follow
        count = struct.unpack(">I", header[4:8])[0]
        entries = [struct.unpack(">5I", header[8 + 20 * i:28 + 20 * i])
                   for i in range(min(count, 8)) if len(header) >= 28 + 20 * i]
        return sorted(CPU_TYPES.get(entry[0], hex(entry[0])) for entry in entries)
    if struct.unpack("<I", header[:4])[0] == 0xFEEDFACF:  # MH_MAGIC_64, little-endian
        cputype = struct.unpack("<I", header[4:8])[0]
        return [CPU_TYPES.get(cputype, hex(cputype))]
    return []


def check_universal(path):
    architectures = mach_o_architectures(path)
    expect(architectures == ["arm64", "x86_64"],
           f"{path}: not a universal arm64 + x86_64 Mach-O (found: {architectures or 'no Mach-O'})")


def check_tarball(bundle, root):
    tarballs = list(bundle.glob("liaison-*-macos.tar.gz"))
    if not expect(len(tarballs) == 1, f"{bundle}: wanted one liaison-*-macos.tar.gz"):
        return
    with tarfile.open(tarballs[0]) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for relative, mode in EXPECTED_MODES.items():
        member = members.get(f"root/{relative}")
        if expect(member is not None, f"{tarballs[0].name}: no root/{relative}"):
            expect(member.uid == 0 and member.gid == 0 and member.uname == "root"
                   and member.gname == "wheel",
                   f"{tarballs[0].name}: root/{relative} is {member.uname}:{member.gname}, "
                   "wanted root:wheel (launchd refuses other owners)")
            expect(stat.S_IMODE(member.mode) == mode,
                   f"{tarballs[0].name}: root/{relative} mode {oct(member.mode)}, wanted {oct(mode)}")
    expect("signing/liaison.entitlements" in members, f"{tarballs[0].name}: no entitlements")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", required=True, type=Path, help="macos-bundle.sh's output")
    parser.add_argument("--version", required=True, help="the project's version")
    parser.add_argument("--layout-only", action="store_true",
                        help="do not require the binaries to be universal Mach-O files")
    args = parser.parse_args()
    root = args.bundle / "root"

    for relative, mode in EXPECTED_MODES.items():
        path = root / relative
        if expect(path.is_file(), f"missing: {relative}"):
            expect(stat.S_IMODE(path.stat().st_mode) == mode,
                   f"{relative}: mode {oct(path.stat().st_mode)}, wanted {oct(mode)}")

    info = load_plist(root / APP / "Contents/Info.plist")
    executable = root / APP / "Contents/MacOS" / info.get("CFBundleExecutable", "?")
    expect(executable.is_file(), f"Info.plist: CFBundleExecutable {executable.name} is not in "
           "Contents/MacOS")
    expect(info.get("CFBundleShortVersionString") == args.version,
           f"Info.plist: version {info.get('CFBundleShortVersionString')}, project {args.version}")
    expect(info.get("LSUIElement") is True, "Info.plist: LSUIElement is not true (a Dock icon)")
    identifier = info.get("CFBundleIdentifier", "")

    check_job(root, "Library/LaunchDaemons/dev.liaison.daemon.plist", "dev.liaison.daemon")
    agent = check_job(root, "Library/LaunchAgents/dev.liaison.agent.plist", "dev.liaison.agent")
    arguments = agent.get("ProgramArguments", [])
    expect(arguments[:1] == [f"/{APP}/Contents/MacOS/{executable.name}"],
           "the LaunchAgent does not run the app's main executable (notifications and the "
           "Secure Enclave need it)")
    expect(identifier in agent.get("AssociatedBundleIdentifiers", []),
           f"the LaunchAgent's AssociatedBundleIdentifiers lack {identifier}")

    entitlements = load_plist(args.bundle / "signing/liaison.entitlements")
    expect(entitlements.get("com.apple.application-identifier", "").endswith("." + identifier),
           f"entitlements: application identifier is not TEAMID.{identifier}")

    if not args.layout_only:
        check_universal(executable)
        check_universal(root / "usr/local/bin/liaison")
    check_tarball(args.bundle, root)

    for problem in problems:
        print(f"check_bundle: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_bundle: {args.bundle}: layout, plists and tarball OK"
          + (" (layout only: stand-in binary)" if args.layout_only else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
