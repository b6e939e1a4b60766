// What liaison's TPM keys are: the templates the TPM makes them from, the wrapped form they are
// stored in, and their public key and signatures in the forms OpenSSL reads.
#pragma once

#include <tss2_tpm2_types.h>

#include <cstdint>
#include <span>

#include "keys/unexportable_key.h"

namespace liaison::keys::tpm {

// A key as the TPM returned it from TPM2_Create: its public area, and its private area encrypted
// under the parent (useless off the TPM that made it).
struct TpmKeyBlob {
  TPM2B_PUBLIC public_area{};
  TPM2B_PRIVATE private_area{};
};

// The parent: the TCG "Provisioning Guidance" ECC P-256 storage root key template (restricted
// decrypt, AES-128-CFB, noDA, unique x and y 32 zero bytes each). TPM2_CreatePrimary derives the
// same key from the owner seed every time, so the parent needs no storage; keys made under it load
// again until the TPM is cleared.
TPM2B_PUBLIC storage_root_key_template();

// A signing key: ECC NIST P-256, fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth |
// sign, empty auth (a password session with an empty password uses it), and no scheme of its
// own: TPM2_Sign asks for ECDSA with SHA-256 (keys made before issue 14 carry that scheme;
// both load).
TPM2B_PUBLIC signing_key_template();

// The attestation key (AK): ECC NIST P-256, restricted signing (it signs only what the TPM itself
// made: attestation structures, never a digest from outside), scheme ECDSA/SHA-256, fixedTPM |
// fixedParent | sensitiveDataOrigin | userWithAuth, empty auth.
TPM2B_PUBLIC attestation_key_template();

// The TPM's name of an object: its nameAlg (2 bytes, big-endian) then that hash of its marshalled
// TPMT_PUBLIC, what TPM2_MakeCredential binds a credential to. SHA-256 and SHA-384 name algs.
KeyResult<Bytes> object_name(const TPMT_PUBLIC& area);

// A TPMT_PUBLIC in the TPM's marshalling, without the size in front: what an object's name hashes,
// and WebAuthn's pubArea.
KeyResult<Bytes> marshal_public_area(const TPMT_PUBLIC& area);

// A TPM2B_PUBLIC in the TPM's marshalling (what tpm2-tools reads as a "tss" public file), and
// back; parsing refuses trailing bytes.
KeyResult<Bytes> marshal_public(const TPM2B_PUBLIC& public_area);
KeyResult<TPM2B_PUBLIC> unmarshal_public(std::span<const uint8_t> bytes);
KeyResult<Bytes> marshal_private(const TPM2B_PRIVATE& private_area);
KeyResult<TPM2B_PRIVATE> unmarshal_private(std::span<const uint8_t> bytes);

// The wrapped form: "LTPK", a version byte (1), then the TPM2B_PUBLIC and the TPM2B_PRIVATE in
// the TPM's own marshalling (Tss2_MU_*). The header lets garbage be refused with a clear error.
KeyResult<Bytes> wrap_key_blob(const TpmKeyBlob& blob);

// Parses a wrapped form and checks it holds a P-256 ECDSA/SHA-256 signing key, nothing else and
// nothing more. Errors have code `failed` (like the software provider's: a damaged
// stored key is not a bad argument from the caller).
KeyResult<TpmKeyBlob> unwrap_key_blob(std::span<const uint8_t> wrapped);

// DER SubjectPublicKeyInfo of the key's public point (x, y from the TPM, validated on the curve).
KeyResult<Bytes> spki_from_public_area(const TPM2B_PUBLIC& public_area);

// DER SubjectPublicKeyInfo of any RSA or ECC (NIST P-256, P-384, P-521) public area: an EK's,
// an AK's. OpenSSL checks the key (an ECC point on its curve); other types are `unsupported`.
KeyResult<Bytes> spki_from_any_public_area(const TPMT_PUBLIC& area);

// The TPM's (r, s) as an ASN.1 DER ECDSA-Sig-Value, the form `openssl dgst -verify` reads.
KeyResult<Bytes> der_signature_from_tpm(const TPMT_SIGNATURE& signature);

}  // namespace liaison::keys::tpm
