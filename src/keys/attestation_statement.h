// How `liaison key attest` packs a TPM2_Certify (attestation.h's Certification) for a verifier
// (issue 14; docs/protocol.md, "key.attest", says the same for people):
//
//   --format tpm: {"ver": "2.0", "alg": -7, "x5c": [...], "sig", "certInfo", "pubArea"}, the
//     fields of WebAuthn's `tpm` attestation statement, binary ones base64; the TPM's extraData
//     is SHA-256(challenge).
//   --format webauthn: the CBOR attestation object {"fmt": "tpm", "attStmt": {the same, as CBOR
//     byte strings}, "authData"}, where authData is what a WebAuthn authenticator would have made
//     for the key (below) and the challenge stands for the client-data hash: extraData is
//     SHA-256(authData || challenge), as WebAuthn's verification procedure for `tpm` checks.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "keys/attestation.h"
#include "keys/unexportable_key.h"

namespace liaison::keys {

// The relying party whose ID is hashed into authData: liaison's own, fixed, so a verifier knows
// what to expect. A WebAuthn relying party verifying these checks this hash, not its own.
inline constexpr std::string_view kAttestationRpId = "liaison";

// COSE algorithm -7: ECDSA with SHA-256 (the AK's signatures, and the attested keys' own).
inline constexpr int kCoseEs256 = -7;

Bytes sha256_of(std::span<const uint8_t> data);

// WebAuthn authenticatorData for the P-256 key `spki`: SHA-256(rp_id), flags UP|AT (0x41), sign
// count 0, then attestedCredentialData: AAGUID all zero, credential ID SHA-256(spki) (32 bytes,
// with its 2-byte length), and the key as a COSE_Key (kty EC2, alg ES256, crv P-256, x, y).
KeyResult<Bytes> webauthn_authenticator_data(std::span<const uint8_t> spki,
                                             std::string_view rp_id = kAttestationRpId);

// The extraData the TPM certifies with, for each format (see above).
Bytes tpm_format_extra_data(std::span<const uint8_t> challenge);
Bytes webauthn_extra_data(std::span<const uint8_t> authenticator_data,
                          std::span<const uint8_t> challenge);

// {"ver", "alg", "x5c", "sig", "certInfo", "pubArea"}, binary fields base64.
nlohmann::json tpm_attestation_statement(const Certification& certification);

// The CBOR attestation object {"fmt": "tpm", "attStmt", "authData"}.
Bytes webauthn_attestation_object(const Certification& certification,
                                  std::span<const uint8_t> authenticator_data);

}  // namespace liaison::keys
