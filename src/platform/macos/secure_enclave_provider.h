// Apple only. Secure Enclave P-256 keys through Security.framework. Runs in the user's agent (a
// signed Liaison.app whose profile grants keychain-access-groups), never in the root daemon:
// third-party daemons cannot reach the Secure Enclave (docs/macos.md).
#pragma once

#include <memory>
#include <string>

#include "keys/unexportable_key.h"

namespace liaison::platform::macos {

// `access_group` ([keys] keychain_access_group) is "TEAMID.dev.liaison" or similar and must be
// listed in the app's keychain-access-groups entitlement; empty means the app's default group.
std::unique_ptr<keys::UnexportableKeyProvider> make_secure_enclave_provider(
    std::string access_group);

}  // namespace liaison::platform::macos
