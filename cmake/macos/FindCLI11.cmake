# macOS cross build only (toolchain.cmake): CLI11 is header-only; its headers are in
# toolchain.cmake's directory of Debian's header trees.
set(CLI11_FOUND TRUE)
