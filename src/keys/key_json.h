// How keys look on the wire and in `--json`: shared by the daemon (daemon-context keys) and the
// agent (user-session keys), so both answer in one shape (docs/protocol.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "keys/key_store.h"

namespace liaison::keys {

// {"label", "backend", "hardware_backed", "context", "created", "public_key" (PEM), "kid"}
nlohmann::json key_record_json(const KeyRecord& record, std::string_view context);

// {"keys": [...], "problems": [{"file", "code", "message"}]}
nlohmann::json key_listing_json(const KeyListing& listing, std::string_view context);

}  // namespace liaison::keys
