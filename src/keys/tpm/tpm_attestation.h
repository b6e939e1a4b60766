// Attestation (keys/attestation.h) by a TPM 2.0 through tpm2-tss, over a connection shared with
// the daemon's TPM key provider when the TPM is placed there (one TPM, one connection: a swtpm
// serves one client at a time, and /dev/tpmrm0 gives each its own object slots).
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "keys/attestation.h"

namespace liaison::keys::tpm {

class TpmConnection;

class TpmAttestation final : public Attestation {
 public:
  explicit TpmAttestation(std::shared_ptr<TpmConnection> tpm) : tpm_(std::move(tpm)) {}

  KeyResult<std::vector<EndorsementEvidence>> endorsement() override;
  std::string tpm_name() const override;

 private:
  // One EK's public key, derived once.
  struct DerivedEk {
    KeyResult<Bytes> public_key;
    bool template_from_nv = false;
  };
  DerivedEk derived_ek(uint32_t certificate_index);

  std::shared_ptr<TpmConnection> tpm_;
  std::map<uint32_t, DerivedEk> derived_;  // by certificate NV index
};

}  // namespace liaison::keys::tpm
