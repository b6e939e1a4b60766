// Apple only. The presence key of issue 26: one Secure Enclave P-256 key per user, labelled
// "dev.liaison.presence" in the data protection keychain, whose access control adds
// kSecAccessControlUserPresence to private-key usage, so every signature waits for Touch ID or the
// login password in a prompt macOS itself shows (the reason as LAContext.localizedReason). Made in
// the user's agent (a signed Liaison.app, as every Secure Enclave key: docs/macos.md).
#pragma once

#include <memory>
#include <string>

#include "agent/presence_key.h"

namespace liaison::platform::macos {

// `access_group` as for make_secure_enclave_provider ([keys] keychain_access_group).
std::unique_ptr<agent::PresenceKey> make_user_presence_key(std::string access_group);

}  // namespace liaison::platform::macos
