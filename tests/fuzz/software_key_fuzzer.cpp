// A software key's wrapped form (DER PKCS#8), read from the user's key file.
#include <cstddef>
#include <cstdint>
#include <span>

#include "keys/software_provider.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static liaison::keys::SoftwareKeyProvider provider;
  (void)provider.from_wrapped(std::span<const uint8_t>(data, size));
  return 0;
}
