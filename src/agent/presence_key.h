// A key in the user's session that signs only once its user proved they are there (issue 26,
// macOS): a Secure Enclave key whose access control is kSecAccessControlUserPresence, so macOS
// itself shows Touch ID or the password prompt for every signature. The daemon keeps the public
// key and verifies each signature of its fresh nonce; the agent holding the key cannot sign
// without the user. platform/macos/user_presence_key.mm is the implementation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol/json_rpc.h"

namespace liaison::agent {

class PresenceKey {
 public:
  // Called exactly once, from any thread: the DER ECDSA P-256 signature of SHA-256(message), or
  // an application error whose code is `denied` (the user cancelled, or failed to
  // authenticate), `timeout` (the prompt was withdrawn), or `unavailable`.
  using Signed = std::function<void(protocol::Result<std::vector<uint8_t>>)>;

  virtual ~PresenceKey() = default;

  // The SubjectPublicKeyInfo (DER) of this user's presence key, made the first time. Making one
  // asks nothing of the user. Milliseconds.
  virtual protocol::Result<std::vector<uint8_t>> public_key() = 0;

  // Starts signing `message`; the system asks the user first, showing `reason`. Returns at once.
  virtual void sign(std::vector<uint8_t> message, std::string reason, Signed done) = 0;

  // Withdraws the prompt of a signing in progress, if there is one: its `done` gets `timeout`.
  virtual void cancel() = 0;
};

}  // namespace liaison::agent
