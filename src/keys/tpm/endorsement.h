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

// An endorsement key as TPM2_CreatePrimary makes it in the endorsement hierarchy from the
// template that goes with a certificate index: the key an EK certificate certifies, and the one
// credential activation decrypts with.
struct EndorsementKey {
  TPM2_HANDLE certificate_index = 0;
  TPM2B_PUBLIC public_area{};     // as the TPM returned it
  Bytes spki;                     // DER SubjectPublicKeyInfo of its public key
  bool template_from_nv = false;  // the manufacturer's template in NV, not the profile's
};

// The template of the EK whose certificate is at `certificate_index`: the one the manufacturer
// stored in NV beside the certificate (with its nonce, in the low range) when there is one, else
// the profile's. liaison carries the profile templates it could check against a TPM here: RSA
// 2048 and ECC P-256 of the low range (templates L-1, L-2), ECC P-384 of the high range (H-3);
// another index without a template in NV is `unsupported`. One round trip to list the NV indices,
// then read_nv's of what is there.
struct EkTemplate {
  TPM2B_PUBLIC public_area{};
  bool from_nv = false;  // the manufacturer's, read from NV
};
KeyResult<EkTemplate> ek_template(TpmConnection& tpm, TPM2_HANDLE certificate_index);

// Whether the EK made from `area` is used with the low range's policy, PolicySecret(TPM_RH_
// ENDORSEMENT) with SHA-256: what TpmConnection::activate_credential satisfies.
bool uses_endorsement_secret_policy(const TPMT_PUBLIC& area);

// The EK that goes with `certificate_index`: ek_template, then TPM2_CreatePrimary (and a flush).
// Deriving a primary key costs the TPM: ~2 ms for ECC on swtpm, an RSA key up to seconds on a
// discrete TPM.
KeyResult<EndorsementKey> read_endorsement_key(TpmConnection& tpm, TPM2_HANDLE certificate_index);

}  // namespace liaison::keys::tpm
