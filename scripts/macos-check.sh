#!/usr/bin/env bash
# make macos-check: builds every target of the macOS build -- the liaison binary, every library,
# every unit test binary -- for arm64 and x86_64 against Apple's SDK, with the project's warnings
# as errors, links them with ld64.lld, and makes the universal liaison with llvm-lipo.
# Usage: scripts/macos-check.sh BUILD_ROOT      (MACOS_SDK names the SDK; without it: skipped)
# Nothing built here can run here: it proves the Apple build compiles and links, no more
# (docs/macos.md says what else a Mac must prove). cmake/macos/toolchain.cmake is the cross setup.
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_root=${1:?usage: $0 BUILD_ROOT}
archs=(arm64 x86_64)

if [[ -z ${MACOS_SDK:-} ]]; then
  echo "macos-check: skipped: MACOS_SDK is not set (assemble Apple's SDK as docs/macos.md," \
    "\"Building for macOS on Linux\", says; then make macos-check MACOS_SDK=/path/MacOSX14.2.sdk)"
  exit 0
fi
if [[ ! -d $MACOS_SDK/usr/include/c++/v1 || ! -f $MACOS_SDK/SDKSettings.json ]]; then
  echo "macos-check: $MACOS_SDK is not a macOS SDK (no SDKSettings.json, usr/include/c++/v1)" >&2
  exit 1
fi
# Presence checks (issue 26) need LocalAuthentication, which the shared assembly script does not
# copy; hexops/sdk-macos-12.0 (the script's second repository) has it.
if [[ ! -d $MACOS_SDK/System/Library/Frameworks/LocalAuthentication.framework ]]; then
  echo "macos-check: $MACOS_SDK has no LocalAuthentication.framework: copy" \
    "root/System/Library/Frameworks/LocalAuthentication.framework from hexops/sdk-macos-12.0" \
    "(docs/macos.md, \"Building for macOS on Linux\")" >&2
  exit 1
fi
"$source_dir/scripts/install-deps.sh" macos-check
for program in clang++-16 ld64.lld-16 llvm-lipo-16 llvm-ar-16 llvm-nm-16; do
  command -v "$program" >/dev/null || {
    echo "macos-check: $program is missing (scripts/install-deps.sh macos-check)" >&2
    exit 1
  }
done

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_OBJCXX_COMPILER_LAUNCHER=ccache)
fi

# Every executable the build links (liaison, the test binaries, helpers), from ninja's own list.
linked_executables() {
  ninja -C "$1" -t targets all | awk -F': ' '$2 ~ /^(CXX|OBJCXX)_EXECUTABLE_LINKER__/ {print $1}'
}

mkdir -p "$build_root"
summary=()
for arch in "${archs[@]}"; do
  dir=$build_root/$arch
  echo "macos-check: $arch: configuring $dir"
  cmake -S "$source_dir" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_TOOLCHAIN_FILE="$source_dir/cmake/macos/toolchain.cmake" \
    -DLIAISON_MACOS_ARCH="$arch" -DMACOS_SDK="$MACOS_SDK" -DLIAISON_WERROR=ON \
    "${launcher[@]}" >"$dir.configure.log" 2>&1 || {
    cat "$dir.configure.log" >&2
    exit 1
  }
  echo "macos-check: $arch: building every target (log: $dir.build.log)"
  if ! cmake --build "$dir" >"$dir.build.log" 2>&1; then
    grep -E "error|FAILED" "$dir.build.log" | head -40 >&2
    echo "macos-check: $arch: the build failed (whole log: $dir.build.log)" >&2
    exit 1
  fi
  # -Werror turns the compiler's warnings into errors; the linker's are counted here.
  warnings=$(grep -c "warning:" "$dir.build.log" || true)
  if [[ $warnings -ne 0 ]]; then
    grep "warning:" "$dir.build.log" | head -20 >&2
    echo "macos-check: $arch: $warnings warnings" >&2
    exit 1
  fi
  executables=0
  while read -r executable; do
    built=$(llvm-lipo-16 -archs "$dir/$executable" | xargs)
    if [[ $built != "$arch" ]]; then
      echo "macos-check: $dir/$executable is '$built', not a $arch Mach-O" >&2
      exit 1
    fi
    executables=$((executables + 1))
  done < <(linked_executables "$dir")
  libraries=$(find "$dir/src" -name '*.a' | wc -l)
  /usr/bin/python3 "$source_dir/cmake/macos/write_openssl_stub.py" --arch "$arch" --used "$dir"
  summary+=("$arch: $libraries libraries and $executables Mach-O executables, 0 warnings")
done

universal=$build_root/liaison
llvm-lipo-16 -create "$build_root/arm64/src/cli/liaison" "$build_root/x86_64/src/cli/liaison" \
  -output "$universal"
echo "macos-check: fmt header-only (no Mach-O libfmt here); OpenSSL 3 linked against a stub" \
  "(cmake/macos/FindOpenSSL.cmake): every other symbol resolved against the SDK and the project"
for line in "${summary[@]}"; do echo "macos-check: $line"; done
echo "macos-check: OK: universal $universal ($(llvm-lipo-16 -archs "$universal" | xargs)), built against" \
  "$(basename "$MACOS_SDK") with clang $(clang++-16 -dumpversion)"
