#!/usr/bin/env python3
"""The command line starts without the daemon's libraries, and refuses a module it cannot trust.

`liaison` links only what the client commands use; the daemon and the agent are in
liaison-service.so, which only `liaison daemon` and `liaison agent` load (src/cli/service_module.h).
Checked here: the binary's and the module's DT_NEEDED entries (readelf), the one symbol the module
exports, and what a copy of the binary does with no module, with one of another release and with
a library that is not liaison's.
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path

# Libraries only the daemon and the agent need: the binary must not load them (`key sign` loads
# libcrypto when it hashes: src/cli/sha256_on_demand.h).
SERVICE_ONLY = ("libcrypto.so", "libsystemd.so", "libtss2-esys.so", "libtss2-tctildr.so",
                "libtss2-mu.so", "libtss2-rc.so")
ENTRY_SYMBOL = "liaison_service_entry_points"

failures = []


def expect(condition, message):
    if not condition:
        failures.append(message)
    return condition


def needed(path):
    out = subprocess.run(["readelf", "--dynamic", "--wide", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines()
            if "(NEEDED)" in line]


def exported_symbols(path):
    """Names of the symbols the object defines for others (not the ones it imports)."""
    out = subprocess.run(["readelf", "--dyn-syms", "--wide", str(path)], capture_output=True,
                         text=True, check=True).stdout
    names = []
    for line in out.splitlines():
        fields = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(fields) >= 8 and fields[0].endswith(":") and fields[6] != "UND" \
                and fields[4] in ("GLOBAL", "WEAK", "UNIQUE") and fields[5] == "DEFAULT":
            names.append(fields[7].split("@", 1)[0])
    return names


def run(binary, *args):
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def check_libraries(args):
    binary_needs = needed(args.liaison)
    for library in SERVICE_ONLY:
        expect(not any(n.startswith(library) for n in binary_needs),
               f"liaison needs {library}: the client commands would load it ({binary_needs})")
    module_needs = needed(args.module)
    for library in ("libsystemd.so", "libtss2-esys.so"):
        expect(any(n.startswith(library) for n in module_needs),
               f"liaison-service.so does not need {library}: is the daemon still in it? "
               f"({module_needs})")
    exported = exported_symbols(args.module)
    expect(exported == [ENTRY_SYMBOL],
           f"liaison-service.so should export only {ENTRY_SYMBOL}, exports {exported[:20]}")


def check_refusals(args):
    work = args.work_dir
    shutil.rmtree(work, ignore_errors=True)
    (work / "bin").mkdir(parents=True)
    binary = work / "bin" / "liaison"
    shutil.copy2(args.liaison, binary)
    module = work / "lib" / "liaison" / "liaison-service.so"

    done = run(binary, "--help")
    expect(done.returncode == 0 and "notify" in done.stdout,
           f"liaison --help needs the module: {done.returncode} {done.stderr}")

    done = run(binary, "agent")
    expect(done.returncode == 1 and f"cannot load {module}" in done.stderr,
           f"no module: expected 'cannot load {module}', got {done.returncode} {done.stderr!r}")

    module.parent.mkdir(parents=True)
    shutil.copy2(args.another_release, module)
    done = run(binary, "daemon")
    expect(done.returncode == 1 and "is of liaison 0.0.0-another-release" in done.stderr
           and "reinstall liaison" in done.stderr,
           f"a module of another release ran or was refused unclearly: {done.returncode} "
           f"{done.stderr!r}")

    shutil.copy2(args.not_ours, module)
    done = run(binary, "agent")
    expect(done.returncode == 1 and "is not liaison's service module" in done.stderr,
           f"a library that is not the module: {done.returncode} {done.stderr!r}")

    shutil.copy2(args.module, module)
    done = run(binary, "agent")
    loader_errors = ("cannot load", "service module", "reinstall liaison")
    expect(not any(error in done.stderr for error in loader_errors),
           f"the real module, copied beside the copy, did not run: {done.stderr!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--liaison", type=Path, required=True)
    parser.add_argument("--module", type=Path, required=True)
    parser.add_argument("--another-release", type=Path, required=True)
    parser.add_argument("--not-ours", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    args = parser.parse_args()
    check_libraries(args)
    check_refusals(args)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if not failures:
        print("the binary needs none of the service's libraries; the module exports one symbol; "
              "a missing, foreign or other-release module is refused by name")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
