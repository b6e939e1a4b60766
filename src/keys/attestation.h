// Evidence for a server that keys live in this machine's TPM (issue 14). A TPM is known by its
// endorsement keys (EKs), whose certificates its manufacturer wrote into it; an attestation CA
// checks, by credential activation, that an attestation key (AK) sits in the same TPM as such an
// EK, and certifies the AK; the AK then certifies other keys of the TPM (TPM2_Certify).
//
// One interface, one implementation per platform: the TPM's on Linux (tpm/tpm_attestation.h).
// macOS has none: Apple offers third parties no attestation of Secure Enclave keys outside
// Managed Device Attestation (docs/macos.md), and the daemon answers `unavailable` there.
//
// Single-threaded, like the TPM connection it uses; every call blocks for its TPM round trips.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "keys/unexportable_key.h"

namespace liaison::keys {

// One endorsement key of the TPM: its certificate if the TPM holds one, and its public key as the
// TPM derives it. Either may be missing, with `problem` saying why.
struct EndorsementEvidence {
  uint32_t nv_index = 0;             // the certificate's NV index (or where it would be)
  std::string key_type;              // "RSA 2048", "ECC NIST P-384", ...
  std::optional<Bytes> certificate;  // DER, as stored in NV
  std::optional<Bytes> public_key;   // DER SubjectPublicKeyInfo of the EK
  std::optional<Bytes> public_area;  // its TPM2B_PUBLIC, marshalled (tpm2-tools' "tss" form)
  std::string template_source;       // "profile" (TCG EK profile) or "nv" (the manufacturer's)
  std::optional<KeyError> problem;   // why the public key is missing
};

// The daemon's attestation key (AK): what an attestation CA needs to challenge and certify it.
struct AttestationKey {
  Bytes public_area;    // TPM2B_PUBLIC, marshalled (tpm2-tools' "tss" form)
  Bytes name;           // the TPM's name of the AK (nameAlg, then the hash): MakeCredential's -n
  Bytes public_key;     // DER SubjectPublicKeyInfo (ECC P-256)
  std::string created;  // ISO 8601 UTC
  std::vector<Bytes> certificate_chain;  // DER, the AK's first; empty until one is installed
};

struct Enrollment {
  AttestationKey key;
  bool created = false;  // made by this call; false: the AK enrolled before
};

// What TPM2_ActivateCredential recovered, and with which EK.
struct Activation {
  Bytes secret;
  uint32_t ek_index = 0;  // the NV index of the certificate of the EK the CA encrypted to
};

// A TPM2_Certify of a key by the AK: the evidence of issue 14's `key attest`, in the pieces
// WebAuthn's `tpm` attestation statement carries.
struct Certification {
  Bytes certify_info;  // the TPMS_ATTEST the TPM made (marshalled): WebAuthn's certInfo
  Bytes signature;     // the AK's ECDSA signature over certify_info, DER: WebAuthn's sig
  Bytes public_area;   // the certified key's TPMT_PUBLIC (marshalled): WebAuthn's pubArea
  std::vector<Bytes> ak_certificate_chain;  // DER, the AK's first: WebAuthn's x5c
};

// What `liaison doctor` shows of attestation: read only, nothing made or derived.
struct AttestationState {
  std::vector<EndorsementEvidence> ek_certificates;  // certificates only: no EK public derived
  std::optional<AttestationKey> key;                 // the enrolled AK, if there is one
  std::optional<KeyError> key_problem;  // why the AK does not load in this TPM (cleared?)
};

class Attestation {
 public:
  virtual ~Attestation() = default;

  // Every EK certificate the TPM holds, each with its EK's public key; a TPM with no certificate
  // gets the EKs of the profile's low-range templates (RSA 2048, ECC P-256), without
  // certificates. The first call derives each EK (TPM2_CreatePrimary: milliseconds for ECC,
  // seconds for RSA on a discrete TPM); later calls answer from memory after listing the NV
  // indices (one round trip), since an EK changes only when the endorsement seed does.
  virtual KeyResult<std::vector<EndorsementEvidence>> endorsement() = 0;

  // Makes the AK once (TPM2_Create of a restricted signing key under the storage root key, kept
  // 0600 and written atomically under the daemon's state directory); later calls load and return
  // it (TPM2_Load proves it belongs to this TPM). An AK that no longer loads (the TPM was cleared)
  // is an error naming the file to remove, never silently replaced: its certificate would go with
  // it.
  virtual KeyResult<Enrollment> enroll() = 0;

  // Answers an attestation CA's challenge: `credential_file` is what `tpm2_makecredential -o`
  // writes (tpm/credential.h), made for this TPM's EK and the AK's name. The EK is the low
  // range's RSA 2048 one when the encrypted seed is 256 bytes, else its ECC P-256 one; either
  // must have the profile's policy (PolicySecret of the endorsement hierarchy). Errors:
  // `invalid_params` for a file that is no credential, `not_found` before enroll, `failed` when
  // the TPM refuses it (made for another AK or another TPM).
  virtual KeyResult<Activation> activate(std::span<const uint8_t> credential_file) = 0;

  // Stores the certificate chain an attestation CA issued for the AK (DER, the AK's first),
  // replacing any before it, after checking it (x509_summary.h's check_certificate_chain: it
  // certifies the AK, each link is signed by the next, none expired). Returns the AK with it.
  // Errors: `invalid_params` for a chain that fails a check, `not_found` before enroll.
  virtual KeyResult<AttestationKey> install_certificate(std::vector<Bytes> chain) = 0;

  // The DER SubjectPublicKeyInfo of the TPM key stored as `wrapped_key`, read from its public
  // area (no TPM round trip); `failed` for anything but a liaison TPM key.
  virtual KeyResult<Bytes> public_key_of(std::span<const uint8_t> wrapped_key) const = 0;

  // Certifies the TPM key stored as `wrapped_key` (a key.* TPM key's wrapped form) with the AK,
  // `extra_data` (at most 64 bytes) bound in as the attestation's extraData. The key must be a
  // liaison TPM signing key (fixedTPM, fixedParent, sensitiveDataOrigin) that loads in this TPM.
  // Errors: `not_found` without an AK or its certificate (enroll, activate, install-cert first),
  // `failed` for a key of another TPM.
  virtual KeyResult<Certification> certify(std::span<const uint8_t> wrapped_key,
                                           std::span<const uint8_t> extra_data) = 0;

  // The EK certificates the TPM holds and the enrolled AK with its chain, if any: NV reads, the
  // AK's file, and one load of the AK (flushed at once) to prove it is this TPM's; nothing is
  // created or derived (doctor).
  virtual KeyResult<AttestationState> state() = 0;

  // What the TPM is reached through ("device:/dev/tpmrm0"), for messages and `doctor`.
  virtual std::string tpm_name() const = 0;
};

}  // namespace liaison::keys
