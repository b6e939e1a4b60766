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
  std::string tpm_name() const override { return "fake:tpm"; }

  int endorsement_calls = 0;
  int enroll_calls = 0;

 private:
  KeyResult<std::vector<EndorsementEvidence>> endorsement_;
  KeyResult<Enrollment> enrollment_;
};

}  // namespace liaison::keys
