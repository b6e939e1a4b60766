#!/usr/bin/python3
"""Writes the libcrypto.3.tbd link stub of the macOS cross build (FindOpenSSL.cmake).

There is no Mach-O libcrypto on this machine. The stub exports what OpenSSL 3 really exports --
the dynamic symbols of Debian's libcrypto.so.3, the same 3.0 API the headers declare -- and
nothing else, as libcrypto.3.dylib would: a symbol OpenSSL 3 lacks stays undefined and fails the
link, and every symbol that is not OpenSSL's must resolve against the SDK or the project.
With --used BUILD_DIR it instead reports how many of those symbols the build's objects use.
"""
import argparse
import glob
import os
import subprocess
import sys

# Where Homebrew's openssl@3 puts libcrypto on each architecture: a Mac build that links against
# it records the same install name.
INSTALL_NAMES = {
    "arm64": "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
    "x86_64": "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
}


def libcrypto_exports():
    candidates = sorted(glob.glob("/usr/lib/*-linux-gnu/libcrypto.so.3"))
    if not candidates:
        sys.exit("write_openssl_stub: no libcrypto.so.3 (install libssl-dev)")
    out = subprocess.run(["nm", "-D", "--defined-only", candidates[0]], check=True,
                         capture_output=True, text=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


def used_symbols(build_dir, nm):
    objects = []
    for root, _dirs, files in os.walk(build_dir):
        objects += [os.path.join(root, f) for f in files if f.endswith(".o")]
    symbols = set()
    for start in range(0, len(objects), 200):
        out = subprocess.run([nm, "--undefined-only", "--no-sort", "-j", *objects[start:start + 200]],
                             check=True, capture_output=True, text=True).stdout
        symbols.update(line.strip() for line in out.splitlines()
                       if line.strip() and not line.endswith(":"))
    return symbols, len(objects)


def tbd(arch, symbols):
    target = f"{arch}-macos"
    names = sorted(symbols)
    lines = ["--- !tapi-tbd", "tbd-version:     4", f"targets:         [ {target} ]",
             f"install-name:    '{INSTALL_NAMES[arch]}'", "current-version: 3.0.0",
             "compatibility-version: 3.0.0",
             "exports:", f"  - targets:         [ {target} ]", "    symbols:         ["]
    lines += [f"      {name}," for name in names[:-1]] + [f"      {names[-1]} ]", "..."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", required=True, choices=sorted(INSTALL_NAMES))
    parser.add_argument("--out", help="the .tbd to write")
    parser.add_argument("--used", help="report: a build directory whose *.o files are scanned")
    parser.add_argument("--nm", default="llvm-nm-16")
    args = parser.parse_args()
    # Mach-O C symbols carry a leading underscore.
    symbols = {"_" + name for name in libcrypto_exports()}
    if args.used:
        undefined, count = used_symbols(args.used, args.nm)
        print(f"OpenSSL 3 taken from a link stub ({len(symbols)} symbols, from Debian's "
              f"libcrypto.so.3): {len(undefined & symbols)} of them used by {count} objects")
        return
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        f.write(tbd(args.arch, symbols))
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
