// Attestation (keys/attestation.h) by a TPM 2.0 through tpm2-tss, over a connection shared with
// the daemon's TPM key provider when the TPM is placed there (one TPM, one connection: a swtpm
// serves one client at a time, and /dev/tpmrm0 gives each its own object slots).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "keys/attestation.h"

namespace liaison::keys::tpm {

class TpmConnection;

class TpmAttestation final : public Attestation {
 public:
  // The AK is kept in <state_dir>/attestation/ak.json (directory 0700, file 0600, root's):
  // {"version": 1, "created", "public_area", "private_area", "certificate_chain": [DER...]}, the
  // binary fields base64. The private area is the TPM's, encrypted under its storage root key.
  TpmAttestation(std::shared_ptr<TpmConnection> tpm, std::filesystem::path state_dir)
      : tpm_(std::move(tpm)), state_dir_(std::move(state_dir)) {}

  KeyResult<std::vector<EndorsementEvidence>> endorsement() override;
  KeyResult<Enrollment> enroll() override;
  KeyResult<Activation> activate(std::span<const uint8_t> credential_file) override;
  KeyResult<AttestationKey> install_certificate(std::vector<Bytes> chain) override;
  KeyResult<AttestationState> state() override;
  KeyResult<Bytes> public_key_of(std::span<const uint8_t> wrapped_key) const override;
  KeyResult<Certification> certify(std::span<const uint8_t> wrapped_key,
                                   std::span<const uint8_t> extra_data) override;
  std::string tpm_name() const override;

 private:
  // One EK's public key, derived once.
  struct DerivedEk {
    KeyResult<Bytes> public_key;
    Bytes public_area;
    bool template_from_nv = false;
  };
  DerivedEk derived_ek(uint32_t certificate_index);

  // The stored AK record, nullopt when none is; an error for one that cannot be read or parsed.
  struct StoredKey;
  KeyResult<std::optional<StoredKey>> read_stored_key() const;
  KeyResult<void> write_stored_key(const StoredKey& key) const;
  KeyResult<AttestationKey> describe(const StoredKey& key) const;
  std::filesystem::path key_file() const;

  std::shared_ptr<TpmConnection> tpm_;
  std::filesystem::path state_dir_;
  std::map<uint32_t, DerivedEk> derived_;  // by certificate NV index
};

}  // namespace liaison::keys::tpm
