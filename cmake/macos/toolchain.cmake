# Cross-compiling the macOS build on Linux (`make macos-check`, scripts/macos-check.sh): the same
# CMakeLists a Mac configures -- APPLE is true, the if(APPLE) paths are taken -- compiled by
# upstream clang-16 against Apple's SDK headers and linked by ld64.lld-16 against its .tbd stubs.
# Nothing built here runs here; it proves the Apple build compiles and links.
#
#   cmake -S . -B build-macos-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/macos/toolchain.cmake \
#         -DLIAISON_MACOS_ARCH=arm64 -DMACOS_SDK=/path/to/MacOSX14.2.sdk
#
# MACOS_SDK is an SDK assembled on this machine (../shared/tools/assemble-macos-sdk.sh); it is
# Apple's, so it is never copied into the tree. Libraries with no Mach-O build here are provided
# by the find modules beside this file: fmt header-only, nlohmann-json headers, GoogleTest built
# from Debian's sources, OpenSSL's headers with a link stub (FindOpenSSL.cmake says which).
set(CMAKE_SYSTEM_NAME Darwin)
set(CMAKE_SYSTEM_VERSION 22.0)  # Darwin 22 is macOS 13, the deployment target below

# try_compile projects see only these of the cache.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES LIAISON_MACOS_ARCH MACOS_SDK)
if(NOT LIAISON_MACOS_ARCH)
  set(LIAISON_MACOS_ARCH arm64)
endif()
if(NOT MACOS_SDK AND DEFINED ENV{MACOS_SDK})
  set(MACOS_SDK $ENV{MACOS_SDK})
endif()
if(NOT MACOS_SDK OR NOT EXISTS "${MACOS_SDK}/usr/include/c++/v1")
  message(FATAL_ERROR "MACOS_SDK must name an assembled macOS SDK (with usr/include/c++/v1); "
                      "got '${MACOS_SDK}'. See docs/macos.md, \"Building for macOS on Linux\".")
endif()
set(CMAKE_SYSTEM_PROCESSOR ${LIAISON_MACOS_ARCH})
set(CMAKE_OSX_SYSROOT ${MACOS_SDK})
set(CMAKE_OSX_ARCHITECTURES ${LIAISON_MACOS_ARCH})
set(CMAKE_OSX_DEPLOYMENT_TARGET 13.0)  # LSMinimumSystemVersion in packaging/macos/Info.plist

set(target ${LIAISON_MACOS_ARCH}-apple-macos13.0)
foreach(lang C CXX OBJC OBJCXX)
  set(CMAKE_${lang}_COMPILER_TARGET ${target})
endforeach()
set(CMAKE_C_COMPILER /usr/bin/clang-16)
set(CMAKE_CXX_COMPILER /usr/bin/clang++-16)
set(CMAKE_OBJC_COMPILER /usr/bin/clang-16)
set(CMAKE_OBJCXX_COMPILER /usr/bin/clang++-16)

# The SDK's libc++ (16.0.6, Apple's), never a libc++ installed next to Debian's clang. The 14.2
# SDK's AvailabilityInternal.h reads __ENVIRONMENT_OS_VERSION_MIN_REQUIRED__, which Apple clang 15
# and LLVM 17 define and clang 16 does not: without it every availability check sees macOS 0.
set(cxx_flags "-stdlib=libc++ -nostdinc++ -isystem ${MACOS_SDK}/usr/include/c++/v1")
set(os_version "-D__ENVIRONMENT_OS_VERSION_MIN_REQUIRED__=130000")
set(CMAKE_C_FLAGS_INIT "${os_version}")
set(CMAKE_OBJC_FLAGS_INIT "${os_version}")
set(CMAKE_CXX_FLAGS_INIT "${cxx_flags} ${os_version}")
set(CMAKE_OBJCXX_FLAGS_INIT "${cxx_flags} ${os_version}")
# CMake passes the compile flags to the link too, where clang calls -nostdinc++ unused.
foreach(kind EXE SHARED MODULE)
  set(CMAKE_${kind}_LINKER_FLAGS_INIT
      "-fuse-ld=lld --ld-path=/usr/bin/ld64.lld-16 -Wno-unused-command-line-argument")
endforeach()
# Apple's ar and ranlib are not here; LLVM's write archives ld64.lld reads.
set(CMAKE_AR /usr/bin/llvm-ar-16 CACHE FILEPATH "")
set(CMAKE_RANLIB /usr/bin/llvm-ranlib-16 CACHE FILEPATH "")
set(CMAKE_INSTALL_NAME_TOOL /usr/bin/true CACHE FILEPATH "")

# Look for libraries and headers in the SDK only; programs (python3, gzip) on this machine.
set(CMAKE_FIND_ROOT_PATH ${MACOS_SDK})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
list(PREPEND CMAKE_MODULE_PATH ${CMAKE_CURRENT_LIST_DIR})

# The test binaries are Mach-O: list their tests when ctest runs (on a Mac), not after linking.
set(CMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE PRE_TEST)

# Header-only libraries every file may include without a find_package (asio, CLI11, toml++), and
# the headers of the find modules' libraries: Debian's trees, reached through a directory of
# their own so /usr/include (glibc's headers) never shadows the SDK's.
get_property(in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
if(NOT in_try_compile)
  set(LIAISON_MACOS_HEADERS ${CMAKE_BINARY_DIR}/linux-headers)
  file(MAKE_DIRECTORY ${LIAISON_MACOS_HEADERS}/openssl)
  foreach(tree asio asio.hpp CLI toml++ fmt nlohmann)
    if(NOT EXISTS /usr/include/${tree})
      message(FATAL_ERROR "/usr/include/${tree} is missing: scripts/install-deps.sh macos-check")
    endif()
    file(CREATE_LINK /usr/include/${tree} ${LIAISON_MACOS_HEADERS}/${tree} SYMBOLIC)
  endforeach()
  # OpenSSL's headers are split between /usr/include/openssl and the multiarch directory.
  file(GLOB openssl_headers /usr/include/openssl/*.h /usr/include/*-linux-gnu/openssl/*.h)
  foreach(header IN LISTS openssl_headers)
    get_filename_component(name ${header} NAME)
    file(CREATE_LINK ${header} ${LIAISON_MACOS_HEADERS}/openssl/${name} SYMBOLIC)
  endforeach()
  foreach(lang CXX OBJCXX)
    set(CMAKE_${lang}_STANDARD_INCLUDE_DIRECTORIES ${LIAISON_MACOS_HEADERS})
  endforeach()
endif()
