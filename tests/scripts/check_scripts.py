#!/usr/bin/env python3
"""Checks of the set-up scripts that need no root and no network (ctest runs each as scripts.NAME).

  host-programs   every package scripts/host-programs.txt names is installed by the profile it
                  names (scripts/install-deps.sh --list), and every profile it names exists;
  missing-program check-host-programs.sh, given a list with a program no machine has, exits 1
                  and names that program's package, profile and user; a present one passes;
  apt-mirror      scripts/apt-mirror.sh reads the mirror from deb822 and one-line sources,
                  skips disabled, security, non-http and non-bookworm entries, keeps E2E_MIRROR
                  as an override and falls back to deb.debian.org;
  install-deps    install-deps.sh refuses an unknown profile with exit status 2 and lists nest
                  (build < unit < test < bench);
  macos-check     without MACOS_SDK, scripts/macos-check.sh and macos-bundle.sh say in one line
                  that they skipped and exit 0, touching nothing; a MACOS_SDK that is no SDK is
                  refused with exit status 1 before anything is installed or built.

Usage: check_scripts.py CHECK --source-dir DIR
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROFILES = ["build", "unit", "test", "bench"]


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def run(args, env=None, check=True):
    result = subprocess.run(args, capture_output=True, text=True, timeout=60,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise CheckFailed(f"{' '.join(map(str, args))} exited {result.returncode}:\n"
                          f"{result.stdout}{result.stderr}")
    return result


def profile_packages(scripts, profile):
    return set(run([scripts / "install-deps.sh", "--list", profile]).stdout.split())


def host_program_entries(scripts):
    """(program, package, profile, needed by) of each entry of host-programs.txt."""
    entries = []
    for line in (scripts / "host-programs.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        program, package, profile, needed_by = line.split(None, 3)
        entries.append((program, package, profile, needed_by))
    return entries


def check_host_programs(scripts):
    entries = host_program_entries(scripts)
    expect(len(entries) > 10, f"host-programs.txt has only {len(entries)} entries")
    listed = {profile: profile_packages(scripts, profile) for profile in PROFILES}
    problems = []
    for program, package, profile, needed_by in entries:
        if profile not in listed:
            problems.append(f"{program}: unknown profile {profile!r}")
        elif package not in listed[profile] and not _essential(package):
            problems.append(f"{program} ({needed_by}): package {package} is not in "
                            f"`install-deps.sh --list {profile}`")
    expect(not problems, "\n".join(problems))


def _essential(package):
    """Debian's Essential packages (coreutils, dpkg, ...) are on every system, minbase included;
    install-deps.sh need not name them."""
    return package in {"coreutils", "dpkg", "util-linux", "mount", "gzip", "bash"}


def check_missing_program(scripts):
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch)
        shutil.copy(scripts / "check-host-programs.sh", copy)
        (copy / "host-programs.txt").write_text(
            "# program package profile needed-by\n"
            "sh                      dash                      build  everything\n"
            "liaison-no-such-program liaison-no-such-package   test   the guard's own test\n"
            "python3:liaison_no_such liaison-no-such-module    bench  the guard's module test\n")
        script = copy / "check-host-programs.sh"
        build = run([script, "build"], check=False)
        expect(build.returncode == 0, f"profile build should pass:\n{build.stderr}")
        test = run([script, "test"], check=False)
        expect(test.returncode == 1, f"profile test: exit {test.returncode}, wanted 1")
        expect("liaison-no-such-program missing: install liaison-no-such-package" in test.stderr
               and "profile 'test'" in test.stderr and "the guard's own test" in test.stderr,
               f"the message does not name program, package, profile and user:\n{test.stderr}")
        expect("liaison-no-such-module" not in test.stderr,
               "a bench entry was checked for profile test")
        bench = run([script, "bench"], check=False)
        expect(bench.returncode == 1 and "liaison-no-such-module" in bench.stderr,
               f"a missing Python module of profile bench was not reported:\n{bench.stderr}")
        bad = run([script, "nonsense"], check=False)
        expect(bad.returncode == 2, f"an unknown profile: exit {bad.returncode}, wanted 2")


APT_CASES = {
    "deb822": {
        "sources.list.d/debian.sources": (
            "# security first: not a mirror of bookworm main\n"
            "Types: deb\nURIs: https://security.example/debian-security\n"
            "Suites: bookworm-security\nComponents: main\n\n"
            "Types: deb\nURIs: https://disabled.example/debian\nSuites: bookworm\n"
            "Components: main\nEnabled: no\n\n"
            "Types: deb-src\nURIs: https://src.example/debian\nSuites: bookworm\n"
            "Components: main\n\n"
            "Types: deb\nURIs: mirror+file:/etc/apt/mirrors.txt https://mirror.example/debian/\n"
            "Suites: bookworm bookworm-updates\nComponents: main contrib\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"),
    },
    "one-line": {
        "sources.list": (
            "# deb http://commented.example/debian bookworm main\n"
            "deb http://bullseye.example/debian bullseye main\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example/debian "
            "bookworm contrib main  # a comment\n"),
        "sources.list.d/other.list": "deb http://later.example/debian bookworm main\n",
    },
    "deb822-before-one-line": {
        "sources.list": "deb http://one.example/debian bookworm main\n",
        "sources.list.d/x.sources": (
            "Types: deb\nURIs: http://deb822.example/debian\nSuites: bookworm\n"
            "Components: main\n"),
    },
    "nothing-usable": {
        "sources.list": "deb cdrom:[Debian 12]/ bookworm main\n",
    },
}
APT_EXPECTED = {
    "deb822": "https://mirror.example/debian",
    "one-line": "http://one.example/debian",
    "deb822-before-one-line": "http://deb822.example/debian",
    "nothing-usable": "http://deb.debian.org/debian",
}


def check_apt_mirror(scripts):
    env_without_override = {"E2E_MIRROR": ""}
    problems = []
    for case, files in APT_CASES.items():
        with tempfile.TemporaryDirectory() as apt_etc:
            for name, text in files.items():
                path = Path(apt_etc) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            got = run([scripts / "apt-mirror.sh"],
                      env={**env_without_override, "APT_ETC": apt_etc}).stdout.strip()
            if got != APT_EXPECTED[case]:
                problems.append(f"{case}: got {got!r}, wanted {APT_EXPECTED[case]!r}")
            override = run([scripts / "apt-mirror.sh"],
                           env={"APT_ETC": apt_etc,
                                "E2E_MIRROR": "http://override.example/d"}).stdout.strip()
            if override != "http://override.example/d":
                problems.append(f"{case}: E2E_MIRROR ignored, got {override!r}")
    with tempfile.TemporaryDirectory() as empty:
        got = run([scripts / "apt-mirror.sh"],
                  env={**env_without_override, "APT_ETC": empty}).stdout.strip()
        if got != "http://deb.debian.org/debian":
            problems.append(f"no sources at all: got {got!r}")
    expect(not problems, "\n".join(problems))


def check_install_deps(scripts):
    bad = run([scripts / "install-deps.sh", "nonsense"], check=False)
    expect(bad.returncode == 2, f"unknown profile: exit {bad.returncode}, wanted 2")
    expect("usage:" in bad.stderr, f"unknown profile: no usage line:\n{bad.stderr}")
    previous = set()
    for profile in PROFILES:
        packages = profile_packages(scripts, profile)
        expect(previous <= packages,
               f"profile {profile} lacks {sorted(previous - packages)} of the one below it")
        expect(len(packages) > len(previous), f"profile {profile} adds nothing")
        previous = packages
    for required in ("libtss2-dev", "swtpm", "pkg-config", "g++"):
        expect(required in profile_packages(scripts, "unit"),
               f"{required} is not installed for `make unit`")


def check_macos_check(scripts):
    with tempfile.TemporaryDirectory() as scratch:
        build_root = Path(scratch) / "build-macos"
        environment = {k: v for k, v in os.environ.items() if k != "MACOS_SDK"}
        for script in ("macos-check.sh", "macos-bundle.sh"):
            skipped = subprocess.run([scripts / script, build_root], capture_output=True,
                                     text=True, timeout=60, env=environment)
            expect(skipped.returncode == 0, f"{script} without MACOS_SDK: exit "
                   f"{skipped.returncode}\n{skipped.stdout}{skipped.stderr}")
            lines = skipped.stdout.splitlines()
            expect(len(lines) == 1 and "skipped" in lines[0] and "MACOS_SDK" in lines[0],
                   f"{script} without MACOS_SDK should say so in one line:\n{skipped.stdout}")
            expect(not build_root.exists(), f"{script} made {build_root} while skipping")
        not_sdk = run([scripts / "macos-check.sh", build_root], env={"MACOS_SDK": scratch},
                      check=False)
        expect(not_sdk.returncode == 1 and "is not a macOS SDK" in not_sdk.stderr,
               f"a MACOS_SDK that is no SDK: exit {not_sdk.returncode}\n{not_sdk.stderr}")
        expect(not build_root.exists(), f"macos-check.sh made {build_root} for a bad SDK")


CHECKS = {
    "host-programs": check_host_programs,
    "missing-program": check_missing_program,
    "apt-mirror": check_apt_mirror,
    "install-deps": check_install_deps,
    "macos-check": check_macos_check,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--source-dir", type=Path, required=True)
    args = parser.parse_args()
    try:
        CHECKS[args.check](args.source_dir / "scripts")
    except CheckFailed as failure:
        print(f"scripts.{args.check}: FAILED\n{failure}", file=sys.stderr)
        return 1
    print(f"scripts.{args.check}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
