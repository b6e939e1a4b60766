// The control socket's attest.* methods (issue 14; docs/protocol.md): the daemon's evidence that
// keys live in this machine's TPM. The attestation key is the daemon's whichever context the TPM
// keys are placed in, so these run here, on the daemon's own TPM connection (keys/attestation.h).
// Like key.* on daemon-context keys they run on the loop and hold it for their TPM round trips;
// control.sock takes them only from root and group liaison, never from a user.
//   attest.ek {}     -> {tpm, endorsement_keys: [{nv_index, key_type, template, public_key,
//                        public_area, certificate, problem}]}
//   attest.enroll {} -> attest.ek's + {created, attestation_key: {public_key, public_area, name,
//                        created, certificate_chain}}
//   attest.activate {credential: base64 of tpm2_makecredential's file}
//                    -> {secret: base64, ek_nv_index}
//   attest.install_cert {pem: the chain, the AK's certificate first} -> {attestation_key}
#pragma once

#include <asio/awaitable.hpp>
#include <functional>
#include <string>

#include "keys/attestation.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {

class AttestationService {
 public:
  // The platform's attestation, opened on first use; an error (`unavailable`: no TPM, macOS)
  // is what every attest.* call answers.
  using AttestationLookup = std::function<keys::KeyResult<keys::Attestation*>()>;

  // The lookup of a platform without attestation: `unavailable`.
  static keys::KeyResult<keys::Attestation*> none() {
    return std::unexpected(keys::KeyError{"unavailable", "no TPM attestation on this platform"});
  }

  explicit AttestationService(AttestationLookup attestation)
      : attestation_(std::move(attestation)) {}

  static bool handles(const std::string& method) { return method.starts_with("attest."); }

  asio::awaitable<protocol::Result<protocol::Json>> handle(protocol::Request request);

 private:
  protocol::Result<protocol::Json> endorsement_keys();
  protocol::Result<protocol::Json> enroll();
  protocol::Result<protocol::Json> activate(const protocol::Json& params);
  protocol::Result<protocol::Json> install_certificate(const protocol::Json& params);

  AttestationLookup attestation_;
};

// attest.ek's JSON for one endorsement key, and attest.enroll's for the AK (exposed for tests).
protocol::Json endorsement_json(const keys::EndorsementEvidence& ek);
protocol::Json attestation_key_json(const keys::AttestationKey& key);

}  // namespace liaison::daemon
