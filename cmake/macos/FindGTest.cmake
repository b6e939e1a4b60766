# macOS cross build only (toolchain.cmake): GoogleTest compiled for macOS from Debian's sources
# (the googletest package, /usr/src/googletest), as a Mac build would from its own checkout. Its
# targets' headers are system headers to the tests (SYSTEM) and its own warnings are its own.
set(LIAISON_GOOGLETEST_SOURCE /usr/src/googletest CACHE PATH "GoogleTest's sources")
if(NOT TARGET GTest::gtest)
  if(NOT EXISTS ${LIAISON_GOOGLETEST_SOURCE}/CMakeLists.txt)
    message(FATAL_ERROR "${LIAISON_GOOGLETEST_SOURCE} has no GoogleTest sources: "
                        "scripts/install-deps.sh macos-check")
  endif()
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  add_subdirectory(${LIAISON_GOOGLETEST_SOURCE} ${CMAKE_BINARY_DIR}/googletest
                   EXCLUDE_FROM_ALL SYSTEM)
  foreach(target gtest gtest_main gmock gmock_main)
    target_compile_options(${target} PRIVATE -Wno-error)
  endforeach()
endif()
set(GTest_FOUND TRUE)
