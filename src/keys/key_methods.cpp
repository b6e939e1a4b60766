#include "keys/key_methods.h"

#include <fmt/format.h>

#include "keys/key_json.h"
#include "keys/public_key_formats.h"

namespace liaison::keys {
namespace {

using nlohmann::json;

KeyError invalid(std::string message) { return KeyError{"invalid_params", std::move(message)}; }

KeyResult<std::string> string_param(const json& params, const char* key,
                                    std::string fallback = {}) {
  auto found = params.find(key);
  if (found == params.end() || found->is_null()) {
    if (fallback.empty()) {
      return std::unexpected(invalid(fmt::format("{} is required", key)));
    }
    return fallback;
  }
  if (!found->is_string()) {
    return std::unexpected(invalid(fmt::format("{} must be a string", key)));
  }
  return found->get<std::string>();
}

KeyResult<json> create(KeyManager& manager, const json& params, std::string_view context) {
  auto label = string_param(params, "label");
  if (!label) {
    return std::unexpected(label.error());
  }
  auto backend = string_param(params, "backend");
  if (!backend) {
    return std::unexpected(backend.error());
  }
  const bool replace = params.value("replace", false);
  auto record = manager.create(*label, *backend, replace);
  if (!record) {
    return std::unexpected(record.error());
  }
  return key_record_json(*record, context);
}

KeyResult<json> show_public(KeyManager& manager, const json& params, std::string_view context) {
  auto label = string_param(params, "label");
  if (!label) {
    return std::unexpected(label.error());
  }
  auto format_name = string_param(params, "format", "pem");
  if (!format_name) {
    return std::unexpected(format_name.error());
  }
  auto format = parse_public_key_format(*format_name);
  if (!format) {
    return std::unexpected(invalid(format.error()));
  }
  auto record = manager.find(*label);
  if (!record) {
    return std::unexpected(record.error());
  }
  json result = key_record_json(*record, context);
  result["format"] = *format_name;
  if (*format == PublicKeyFormat::kDer) {
    result["public_key"] = base64_encode(record->public_key_spki);
  } else if (*format == PublicKeyFormat::kJwk) {
    auto jwk = public_key_jwk(record->public_key_spki);
    if (!jwk) {
      return std::unexpected(jwk.error());
    }
    result["public_key"] = *jwk;
  }
  return result;
}

KeyResult<Bytes> digest_to_sign(const json& params) {
  const bool has_digest = params.contains("digest");
  if (has_digest == params.contains("data")) {
    return std::unexpected(invalid("give exactly one of digest and data (base64)"));
  }
  auto text = string_param(params, has_digest ? "digest" : "data");
  if (!text) {
    return std::unexpected(text.error());
  }
  auto bytes = base64_decode(*text);
  if (!bytes) {
    return std::unexpected(
        invalid(fmt::format("{} is not base64", has_digest ? "digest" : "data")));
  }
  if (has_digest) {
    if (bytes->size() != 32) {
      return std::unexpected(
          invalid(fmt::format("digest must be a 32-byte SHA-256, not {} bytes", bytes->size())));
    }
    return *bytes;
  }
  if (bytes->size() > kMaxSignDataBytes) {
    return std::unexpected(
        invalid(fmt::format("data over {} bytes: send its SHA-256 as digest", kMaxSignDataBytes)));
  }
  return sha256(*bytes);
}

KeyResult<json> sign(KeyManager& manager, const json& params, std::string_view context) {
  auto label = string_param(params, "label");
  if (!label) {
    return std::unexpected(label.error());
  }
  auto digest = digest_to_sign(params);
  if (!digest) {
    return std::unexpected(digest.error());
  }
  auto record = manager.find(*label);
  if (!record) {
    return std::unexpected(record.error());
  }
  auto signature = manager.sign_digest(*label, *digest);
  if (!signature) {
    return std::unexpected(signature.error());
  }
  return json{{"label", record->label},
              {"backend", record->backend},
              {"hardware_backed", record->hardware_backed},
              {"context", context},
              {"signature", base64_encode(*signature)}};
}

KeyResult<json> remove(KeyManager& manager, const json& params) {
  auto label = string_param(params, "label");
  if (!label) {
    return std::unexpected(label.error());
  }
  if (auto removed = manager.remove(*label); !removed) {
    return std::unexpected(removed.error());
  }
  return json{{"deleted", *label}};
}

}  // namespace

protocol::Error key_error_to_rpc(const KeyError& error) {
  if (error.code == "invalid_params") {
    return protocol::Error::invalid_params(error.message);
  }
  if (error.code == "unknown_method") {
    return {protocol::kMethodNotFound, error.message, {}};
  }
  return protocol::Error::application(error.code.empty() ? protocol::codes::kFailed : error.code,
                                      error.message);
}

// The wrapped form of a TPM key, for the daemon's attestation (key.attest): the TPM's own blob,
// its private part encrypted under a key only this TPM derives. Other keys have nothing a TPM
// could vouch for.
KeyResult<json> tpm_blob(KeyManager& manager, const json& params, std::string_view context) {
  auto label = string_param(params, "label");
  if (!label) {
    return std::unexpected(label.error());
  }
  auto record = manager.find(*label);
  if (!record) {
    return std::unexpected(record.error());
  }
  if (record->backend == "secure-enclave") {
    return std::unexpected(KeyError{
        "unavailable", fmt::format("key \"{}\" is a Secure Enclave key: Apple attests those to "
                                   "third parties only through Managed Device Attestation (MDM)",
                                   *label)});
  }
  if (record->backend != "tpm") {
    return std::unexpected(
        KeyError{std::string(kNotHardwareBacked),
                 fmt::format("key \"{}\" is a {} key, not hardware-backed: no TPM can vouch for it",
                             *label, record->backend)});
  }
  json result = key_record_json(*record, context);
  result["wrapped_key"] = base64_encode(record->wrapped_key);
  return result;
}

KeyResult<json> run_key_method(KeyManager& manager, std::string_view method, const json& params,
                               std::string_view context) {
  if (method == "key.create") {
    return create(manager, params, context);
  }
  if (method == "key.public") {
    return show_public(manager, params, context);
  }
  if (method == "key.sign") {
    return sign(manager, params, context);
  }
  if (method == "key.delete") {
    return remove(manager, params);
  }
  if (method == "key.tpm_blob") {
    return tpm_blob(manager, params, context);
  }
  if (method == "key.list") {
    auto listing = manager.list();
    if (!listing) {
      return std::unexpected(listing.error());
    }
    return key_listing_json(*listing, context);
  }
  return std::unexpected(KeyError{"unknown_method", fmt::format("unknown method \"{}\"", method)});
}

}  // namespace liaison::keys
