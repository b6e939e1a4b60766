// An Attestation (attestation.h) for tests of what uses it: answers with the evidence it was
// given, or with the error it was given, and counts the calls.
#pragma once

#include <utility>
#include <vector>

#include "keys/attestation.h"

namespace liaison::keys {

class FakeAttestation final : public Attestation {
 public:
  explicit FakeAttestation(KeyResult<std::vector<EndorsementEvidence>> endorsement)
      : endorsement_(std::move(endorsement)) {}

  KeyResult<std::vector<EndorsementEvidence>> endorsement() override {
    ++endorsement_calls;
    return endorsement_;
  }
  std::string tpm_name() const override { return "fake:tpm"; }

  int endorsement_calls = 0;

 private:
  KeyResult<std::vector<EndorsementEvidence>> endorsement_;
};

}  // namespace liaison::keys
