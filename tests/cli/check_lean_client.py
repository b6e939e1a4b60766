#!/usr/bin/env python3
"""The command line starts without the daemon's libraries, and refuses a module it cannot trust.

`liaison` links only what the client commands use; the daemon is in liaison-daemon.so, the agent
in liaison-agent.so, the agent's key code in liaison-agent-keys.so, each loaded only by what needs
it (src/cli/modules.h). Checked here: each one's DT_NEEDED entries (readelf), the one symbol each
module exports, and what a copy of the binary does with no module, with one of another release
and with a library that is not liaison's.
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path

TSS2 = ("libtss2-esys.so", "libtss2-tctildr.so", "libtss2-mu.so", "libtss2-rc.so")
# Libraries the binary must not load (`key sign` loads libcrypto when it hashes:
# src/cli/sha256_on_demand.h), and those the agent loads only with its key code.
NOT_IN_BINARY = ("libcrypto.so", "libsystemd.so", *TSS2)
NOT_IN_AGENT = ("libcrypto.so", *TSS2)

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
    def lacks(path, forbidden, why):
        present = [n for n in needed(path) if n.startswith(forbidden)]
        expect(not present, f"{path.name} needs {present}: {why}")

    def has(path, required):
        expect(any(n.startswith(required) for n in needed(path)),
               f"{path.name} does not need {required}: is the code still in it? "
               f"({needed(path)})")

    lacks(args.liaison, NOT_IN_BINARY, "the client commands would load them")
    lacks(args.agent_module, NOT_IN_AGENT, "every agent would load them, keys or not")
    for module, required in ((args.daemon_module, "libtss2-esys.so"),
                             (args.daemon_module, "libsystemd.so"),
                             (args.agent_module, "libsystemd.so"),
                             (args.agent_keys_module, "libtss2-esys.so"),
                             (args.agent_keys_module, "libcrypto.so")):
        has(module, required)
    for module, symbol in ((args.daemon_module, "liaison_daemon_module"),
                           (args.agent_module, "liaison_agent_module"),
                           (args.agent_keys_module, "liaison_agent_keys_module")):
        exported = exported_symbols(module)
        expect(exported == [symbol],
               f"{module.name} should export only {symbol}, exports {exported[:20]}")


def check_refusals(args):
    work = args.work_dir
    shutil.rmtree(work, ignore_errors=True)
    (work / "bin").mkdir(parents=True)
    binary = work / "bin" / "liaison"
    shutil.copy2(args.liaison, binary)
    module = work / "lib" / "liaison" / "liaison-agent.so"
    daemon_module = module.with_name("liaison-daemon.so")

    done = run(binary, "--help")
    expect(done.returncode == 0 and "notify" in done.stdout,
           f"liaison --help needs the module: {done.returncode} {done.stderr}")

    done = run(binary, "agent")
    expect(done.returncode == 1 and f"cannot load {module}" in done.stderr,
           f"no module: expected 'cannot load {module}', got {done.returncode} {done.stderr!r}")

    module.parent.mkdir(parents=True)
    shutil.copy2(args.another_release, daemon_module)
    done = run(binary, "daemon")
    expect(done.returncode == 1 and "is of liaison 0.0.0-another-release" in done.stderr
           and "reinstall liaison" in done.stderr,
           f"a module of another release ran or was refused unclearly: {done.returncode} "
           f"{done.stderr!r}")

    shutil.copy2(args.not_ours, module)
    done = run(binary, "agent")
    expect(done.returncode == 1 and "is not liaison's module (no liaison_agent_module)"
           in done.stderr,
           f"a library that is not the module: {done.returncode} {done.stderr!r}")

    shutil.copy2(args.agent_module, module)
    done = run(binary, "agent")
    loader_errors = ("cannot load", "liaison's module", "reinstall liaison")
    expect(not any(error in done.stderr for error in loader_errors),
           f"the real module, copied beside the copy, did not run: {done.stderr!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--liaison", type=Path, required=True)
    parser.add_argument("--daemon-module", type=Path, required=True)
    parser.add_argument("--agent-module", type=Path, required=True)
    parser.add_argument("--agent-keys-module", type=Path, required=True)
    parser.add_argument("--another-release", type=Path, required=True)
    parser.add_argument("--not-ours", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    args = parser.parse_args()
    check_libraries(args)
    check_refusals(args)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if not failures:
        print("the binary needs none of the daemon's libraries, the agent none of its keys'; each "
              "module exports one symbol; a missing, foreign or other-release module is refused "
              "by name")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
