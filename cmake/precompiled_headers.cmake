# Precompiled headers (issue 25): the third-party and standard headers most files include are
# parsed once per build, not once per file. A cold build spent most of its time parsing asio's
# coroutine machinery, nlohmann-json, fmt and GoogleTest again in each of ~180 files
# (docs/setup.md measures it). Two headers are precompiled, each once, and every target reuses
# one of them (REUSE_FROM): the product's, and the tests' (the product's plus GoogleTest/gmock).
#
# GCC takes a precompiled header only where the compile flags match the ones it was built with;
# the definitions that differ between targets (LIAISON_VERSION, test paths) appear in none of
# these headers, which is what GCC requires of them. Linux only: the Apple build compiles
# Objective-C++ as well, and the cross check (make macos-check) builds without.
# LIAISON_PCH=OFF builds without them (clang-tidy reads the compile commands either way).
option(LIAISON_PCH "Precompile the headers most files include" ON)

set(LIAISON_PCH_HEADERS
  <algorithm> <chrono> <expected> <filesystem> <functional> <map> <memory> <optional> <string>
  <string_view> <vector>
  <fmt/format.h> <nlohmann/json.hpp>
  <asio/awaitable.hpp> <asio/co_spawn.hpp> <asio/detached.hpp> <asio/io_context.hpp>
  <asio/steady_timer.hpp> <asio/use_awaitable.hpp>)

if(LIAISON_PCH AND NOT APPLE)
  add_library(liaison_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
  target_link_libraries(liaison_pch PRIVATE fmt::fmt nlohmann_json::nlohmann_json)
  target_precompile_headers(liaison_pch PRIVATE ${LIAISON_PCH_HEADERS})

  add_library(liaison_test_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
  target_link_libraries(liaison_test_pch PRIVATE fmt::fmt nlohmann_json::nlohmann_json
    GTest::gtest GTest::gmock)
  target_precompile_headers(liaison_test_pch PRIVATE ${LIAISON_PCH_HEADERS} <gmock/gmock.h>
    <gtest/gtest.h>)
  # GCC takes a precompiled header only when built with the same -O level as its user.
  target_compile_options(liaison_test_pch PRIVATE ${LIAISON_TEST_COMPILE_OPTIONS})
endif()

# Every C++ target under `directory` (recursively) that has no precompiled header yet reuses
# the product's, or the tests' when it links GoogleTest.
function(liaison_reuse_precompiled_headers directory)
  if(NOT TARGET liaison_pch)
    return()
  endif()
  get_property(targets DIRECTORY ${directory} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    get_target_property(own ${target} PRECOMPILE_HEADERS_REUSE_FROM)
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE|OBJECT_LIBRARY)$" OR own
       OR target MATCHES "^liaison(_test)?_pch$")
      continue()
    endif()
    get_target_property(libraries ${target} LINK_LIBRARIES)
    # fmt's headers depend on FMT_SHARED, which linking fmt (directly or through a liaison
    # library) defines: a target without fmt, like a test's tiny child program, gets no PCH.
    list(FILTER libraries INCLUDE REGEX "^(fmt::fmt|liaison_.*)$")
    if(NOT libraries)
      continue()
    endif()
    get_target_property(libraries ${target} LINK_LIBRARIES)
    if("GTest::gtest" IN_LIST libraries)
      target_precompile_headers(${target} REUSE_FROM liaison_test_pch)
    else()
      target_precompile_headers(${target} REUSE_FROM liaison_pch)
    endif()
  endforeach()
  get_property(subdirectories DIRECTORY ${directory} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    liaison_reuse_precompiled_headers(${subdirectory})
  endforeach()
endfunction()
