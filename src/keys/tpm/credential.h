// An attestation CA's challenge to the attestation key: TPM2_MakeCredential's output, a
// credential blob (the secret, encrypted and integrity-protected under a seed, bound to the AK's
// name) and the seed encrypted to the TPM's EK. Only a TPM holding both that EK and a key of that
// name can recover the secret (TPM2_ActivateCredential): what proves to the CA that AK and EK
// share one TPM.
#pragma once

#include <tss2_tpm2_types.h>

#include <span>

#include "keys/unexportable_key.h"

namespace liaison::keys::tpm {

struct Credential {
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
};

// The file `tpm2_makecredential -o` writes (tpm2-tools 4 and 5): the magic 0xBADCC0DE and the
// version 1 (big-endian 32-bit each), then the TPM2B_ID_OBJECT and the TPM2B_ENCRYPTED_SECRET in
// the TPM's marshalling. Anything else (another magic or version, a size past the end, bytes
// after the secret) is `invalid_params`, saying what. The bytes come from whoever runs the CLI.
KeyResult<Credential> parse_credential_file(std::span<const uint8_t> file);

}  // namespace liaison::keys::tpm
