// An Attestation (attestation.h) for tests of what uses it: answers with the evidence it was
// given, or with the error it was given, and counts the calls.
#pragma once

#include <utility>
#include <vector>

#include "keys/attestation.h"

namespace liaison::keys {

class FakeAttestation final : public Attestation {
 public:
  explicit FakeAttestation(KeyResult<std::vector<EndorsementEvidence>> endorsement,
                           KeyResult<Enrollment> enrollment = std::unexpected(KeyError{
                               "unavailable", "the fake has no attestation key"}))
      : endorsement_(std::move(endorsement)), enrollment_(std::move(enrollment)) {}

  KeyResult<std::vector<EndorsementEvidence>> endorsement() override {
    ++endorsement_calls;
    return endorsement_;
  }
  KeyResult<Enrollment> enroll() override {
    ++enroll_calls;
    return enrollment_;
  }
  KeyResult<Activation> activate(std::span<const uint8_t> credential_file) override {
    activated_with = Bytes(credential_file.begin(), credential_file.end());
    return activation;
  }
  KeyResult<AttestationKey> install_certificate(std::vector<Bytes> chain) override {
    installed = std::move(chain);
    return installation;
  }
  KeyResult<Bytes> public_key_of(std::span<const uint8_t> wrapped_key) const override {
    if (wrapped_key.empty()) {
      return std::unexpected(KeyError{"failed", "not a liaison TPM key"});
    }
    return public_key;
  }
  KeyResult<Certification> certify(std::span<const uint8_t> wrapped_key,
                                   std::span<const uint8_t> extra_data) override {
    certified_key = Bytes(wrapped_key.begin(), wrapped_key.end());
    certified_extra_data = Bytes(extra_data.begin(), extra_data.end());
    return certification;
  }
  KeyResult<AttestationState> state() override { return current_state; }
  std::string tpm_name() const override { return "fake:tpm"; }

  KeyResult<Activation> activation =
      std::unexpected(KeyError{"unavailable", "the fake activates nothing"});
  Bytes activated_with;
  KeyResult<AttestationKey> installation =
      std::unexpected(KeyError{"unavailable", "the fake installs nothing"});
  std::vector<Bytes> installed;
  KeyResult<Certification> certification =
      std::unexpected(KeyError{"unavailable", "the fake certifies nothing"});
  KeyResult<AttestationState> current_state = AttestationState{};
  Bytes public_key;  // what public_key_of answers for any non-empty wrapped key
  Bytes certified_key;
  Bytes certified_extra_data;

  int endorsement_calls = 0;
  int enroll_calls = 0;

 private:
  KeyResult<std::vector<EndorsementEvidence>> endorsement_;
  KeyResult<Enrollment> enrollment_;
};

}  // namespace liaison::keys
