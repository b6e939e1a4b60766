// How a key provider looks to `liaison doctor` from the context that uses it (the daemon, or a
// user's session): the hardware behind it, or why it cannot be reached and what fixes that.
#pragma once

#include <string>
#include <string_view>

#include "keys/unexportable_key.h"
#include "protocol/finding.h"

namespace liaison::keys {

// The finding for the provider `name` ("tpm", "secure-enclave", "software") that looking it up
// gave (`opened`), as seen from `where` ("the daemon", "alice's session"). Calls describe() on
// it: one or two round trips to the hardware.
protocol::Finding check_provider(std::string_view name, KeyResult<UnexportableKeyProvider*> opened,
                                 std::string_view where);

// The check's stable name for a provider: "tpm", "secure-enclave", "software-keys". Inline: the
// agent names checks without linking the key code (src/agent/key_service.h).
inline std::string provider_check_name(std::string_view provider) {
  return provider == "software" ? "software-keys" : std::string(provider);
}

}  // namespace liaison::keys
