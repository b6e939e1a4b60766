# macOS cross build only (toolchain.cmake): nlohmann-json is header-only; its headers are in
# toolchain.cmake's directory of Debian's header trees.
if(NOT TARGET nlohmann_json::nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
endif()
set(nlohmann_json_FOUND TRUE)
