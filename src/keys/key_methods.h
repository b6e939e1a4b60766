// The key.* methods' work on one KeyManager, shared by the daemon (daemon-context keys) and the
// agent (user-session keys) so both take the same params and answer in the same shapes
// (docs/protocol.md). `context` names where this runs: "daemon" or "user-session".
//   key.create {label, backend, replace}        -> the key
//   key.list   {}                                -> {keys, problems}
//   key.public {label, format: pem|der|jwk}      -> the key + {format, public_key}
//   key.sign   {label, digest | data (base64)}   -> the key's label/backend + {signature}
//   key.delete {label}                           -> {deleted}
//   key.tpm_blob {label}                         -> the key + {wrapped_key} (TPM keys only; for
//                                                   the daemon's key.attest, never a user)
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "keys/key_manager.h"
#include "protocol/json_rpc.h"

namespace liaison::keys {

// The error code of an operation only a hardware key supports (key.attest of a software key).
inline constexpr std::string_view kNotHardwareBacked = "not_hardware_backed";

// Largest `data` key.sign takes; larger input is hashed by the caller and sent as `digest`.
inline constexpr std::size_t kMaxSignDataBytes = 512 * std::size_t{1024};

// How a key error travels: "invalid_params" is a bad param (-32602); the rest keep their code.
protocol::Error key_error_to_rpc(const KeyError& error);

KeyResult<nlohmann::json> run_key_method(KeyManager& manager, std::string_view method,
                                         const nlohmann::json& params, std::string_view context);

}  // namespace liaison::keys
