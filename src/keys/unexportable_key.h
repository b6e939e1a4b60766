// Keys whose private half never leaves where it was made: a TPM, the Secure Enclave, or (said
// loudly) an OpenSSL key in a file. In the spirit of Chromium's crypto::UnexportableKeyProvider:
// a provider makes or reloads keys, a key signs and tells its public half. Every key is ECDSA
// P-256 and signs SHA-256 digests, giving DER signatures any OpenSSL verifies.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::keys {

using Bytes = std::vector<uint8_t>;

// Why a key operation failed, with a stable code for the wire (DESIGN.md error codes) and a
// message a person can act on ("no TPM at /dev/tpmrm0: ...").
struct KeyError {
  // not_found, exists, unavailable, not_permitted, timeout, failed, or invalid_params: a bad
  // argument (label, digest length, public key), which the wire reports as JSON-RPC -32602.
  std::string code;
  std::string message;
};

template <typename T>
using KeyResult = std::expected<T, KeyError>;

// Where a provider's operations must run: in the root daemon (a Linux TPM, root:tss), or inside
// the user's session (the Secure Enclave, reachable only in the user's context).
enum class KeyContext { kDaemon, kUserSession };

std::string_view key_context_name(KeyContext context);

// What `liaison doctor` reports about a provider: the hardware behind it, and whether it can sign
// right now.
struct ProviderDescription {
  std::string summary;   // one line: "TPM 2.0 by IBM (SW   TPM), firmware 8217.4131.22.13838"
  nlohmann::json facts;  // the same, field by field, for scripts
  std::string problem;   // set when it answers but cannot sign now (a TPM in lockout)
  std::string fix;       // what to do about `problem`
};

class UnexportableSigningKey {
 public:
  virtual ~UnexportableSigningKey() = default;

  // DER SubjectPublicKeyInfo of the P-256 public key. Cheap: computed once.
  virtual Bytes public_key_spki() const = 0;

  // What to store to load this key again with the same provider. Opaque, and useless off the
  // hardware it came from (for the software provider it is the private key itself: protect it).
  virtual Bytes wrapped_key() const = 0;

  virtual bool hardware_backed() const = 0;

  // Signs a 32-byte SHA-256 digest; returns an ASN.1 DER ECDSA signature. May take a while on
  // hardware: about a millisecond on a TPM simulator, tens of milliseconds on a real TPM.
  virtual KeyResult<Bytes> sign_digest(std::span<const uint8_t> digest) = 0;
};

class UnexportableKeyProvider {
 public:
  virtual ~UnexportableKeyProvider() = default;

  // "tpm", "secure-enclave", "software".
  virtual std::string name() const = 0;
  virtual KeyContext context() const = 0;
  virtual bool hardware_backed() const = 0;

  // Makes a new key. Slow on hardware (a TPM key generation can take a second).
  virtual KeyResult<std::unique_ptr<UnexportableSigningKey>> generate() = 0;

  // Loads a key from what wrapped_key() returned.
  virtual KeyResult<std::unique_ptr<UnexportableSigningKey>> from_wrapped(
      std::span<const uint8_t> wrapped) = 0;

  // Removes whatever the provider keeps for the key outside its wrapped form (a keychain item
  // for the Secure Enclave; nothing for a TPM key held only as a wrapped blob).
  virtual KeyResult<void> erase(std::span<const uint8_t> wrapped) = 0;

  // The hardware behind this provider, for `liaison doctor`; fails as opening it would when it
  // cannot be reached. One or two round trips (a TPM: two TPM2_GetCapability calls).
  virtual KeyResult<ProviderDescription> describe() = 0;
};

// SHA-256 of `data` (OpenSSL), for callers that sign messages rather than digests.
Bytes sha256(std::span<const uint8_t> data);

}  // namespace liaison::keys
