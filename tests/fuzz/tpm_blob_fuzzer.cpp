// A TPM key's wrapped form ("LTPK", version, TPM2B_PUBLIC, TPM2B_PRIVATE), read from the user's
// key file: unwrapped with the TSS's unmarshalling, then its public area turned into an SPKI.
#include <cstddef>
#include <cstdint>
#include <span>

#include "keys/tpm/tpm_key_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto blob = liaison::keys::tpm::unwrap_key_blob(std::span<const uint8_t>(data, size));
  if (blob) {
    (void)liaison::keys::tpm::spki_from_public_area(blob->public_area);
  }
  return 0;
}
