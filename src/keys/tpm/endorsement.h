// The TPM's endorsement key (EK) certificates: what its manufacturer (or swtpm_setup) wrote into
// NV so that an attestation CA can tell this TPM is a real one of that manufacturer (issue 14).
// TCG EK Credential Profile 2.x: the low range holds RSA 2048 (0x01c00002) and ECC NIST P-256
// (0x01c0000a); the high range, one certificate every second index from 0x01c00012, the other
// key types. Vendors fill different indices (swtpm: RSA 2048 low, ECC P-384 high), so every one
// is looked for and each certificate found is named by its index.
#pragma once

#include <string_view>
#include <vector>

#include "keys/tpm/tpm_connection.h"

namespace liaison::keys::tpm {

struct EkCertificate {
  TPM2_HANDLE nv_index = 0;
  std::string_view key_type;  // "RSA 2048", "ECC NIST P-384", ... as the index's profile says
  Bytes der;                  // the X.509 certificate as stored
};

// The EK certificate indices of the profile and the key type each is for.
struct EkCertificateIndex {
  TPM2_HANDLE nv_index;
  std::string_view key_type;
};
inline constexpr EkCertificateIndex kEkCertificateIndices[] = {
    {0x01c00002, "RSA 2048"},       {0x01c0000a, "ECC NIST P-256"}, {0x01c00012, "RSA 2048"},
    {0x01c00014, "ECC NIST P-256"}, {0x01c00016, "ECC NIST P-384"}, {0x01c00018, "ECC NIST P-521"},
    {0x01c0001a, "ECC SM2 P-256"},  {0x01c0001c, "RSA 3072"},       {0x01c0001e, "RSA 4096"},
};

// Every EK certificate the TPM holds, in index order; none is not an error (a TPM without a
// manufacturer's certificate, as a plain swtpm). One round trip to list the indices, then
// read_nv's for each one present.
KeyResult<std::vector<EkCertificate>> read_ek_certificates(TpmConnection& tpm);

}  // namespace liaison::keys::tpm
