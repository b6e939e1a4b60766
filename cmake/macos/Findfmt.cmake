# macOS cross build only (toolchain.cmake): there is no Mach-O libfmt here, so fmt is used
# header-only (FMT_HEADER_ONLY compiles its implementation into each user; a Mac build with
# Homebrew's fmt finds fmt's own package config instead). Headers: toolchain.cmake's directory.
if(NOT TARGET fmt::fmt)
  add_library(fmt::fmt INTERFACE IMPORTED)
  set_target_properties(fmt::fmt PROPERTIES INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
endif()
set(fmt_FOUND TRUE)
