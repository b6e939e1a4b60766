# macOS cross build only (toolchain.cmake): OpenSSL 3's headers (Debian's, in toolchain.cmake's
# directory; a Mac links Homebrew's or a vendored libcrypto.3.dylib) and, because there is no
# Mach-O libcrypto here, a link stub: libcrypto.3.tbd exports exactly what OpenSSL 3 exports
# (write_openssl_stub.py reads Debian's libcrypto.so.3), so a symbol OpenSSL lacks and every
# symbol that is not OpenSSL's must still resolve for real, against the SDK or the project.
set(LIAISON_OPENSSL_STUB ${CMAKE_BINARY_DIR}/openssl-stub/libcrypto.3.tbd)
if(NOT EXISTS ${LIAISON_OPENSSL_STUB})
  execute_process(COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/write_openssl_stub.py
                          --arch ${LIAISON_MACOS_ARCH} --out ${LIAISON_OPENSSL_STUB}
                  COMMAND_ERROR_IS_FATAL ANY)
endif()
if(NOT TARGET OpenSSL::Crypto)
  add_library(OpenSSL::Crypto UNKNOWN IMPORTED)
  set_target_properties(OpenSSL::Crypto PROPERTIES IMPORTED_LOCATION ${LIAISON_OPENSSL_STUB})
endif()
set(OPENSSL_VERSION 3.0)
set(OpenSSL_FOUND TRUE)
set(OPENSSL_FOUND TRUE)
