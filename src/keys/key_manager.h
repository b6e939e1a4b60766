// One user's keys in one store, with the providers that can run in this process. The daemon keeps
// one per user for daemon-context keys (a Linux TPM); an agent keeps one for the keys that must
// live in its user's session (the Secure Enclave; a TPM placed there by config). Loaded keys are
// kept between signatures, so a TPM key is loaded once, not per signature.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "keys/key_store.h"
#include "keys/unexportable_key.h"

namespace liaison::keys {

class KeyManager {
 public:
  // The provider called `name` ("tpm", "software", ...) if it can run here, or why not.
  using ProviderLookup = std::function<KeyResult<UnexportableKeyProvider*>(std::string_view name)>;

  KeyManager(KeyStore store, ProviderLookup providers)
      : store_(std::move(store)), providers_(std::move(providers)) {}

  // Makes a key with the named provider and stores it under `label` (`exists` unless replace).
  // As slow as the provider's generate(): up to a second on a TPM.
  KeyResult<KeyRecord> create(std::string_view label, std::string_view backend, bool replace);

  KeyResult<KeyListing> list() const { return store_.list(); }

  // The record under `label`: read and checked from the store when its file changed since the
  // last look (one fstatat otherwise), so signing does not re-parse the file every time.
  KeyResult<KeyRecord> find(std::string_view label);

  // Signs a 32-byte SHA-256 digest with the key under `label`; DER ECDSA.
  KeyResult<Bytes> sign_digest(std::string_view label, std::span<const uint8_t> digest);

  // Deletes the key: the provider's part first, then the stored record.
  KeyResult<void> remove(std::string_view label);

 private:
  struct Loaded {
    Bytes wrapped;  // what it was loaded from: a replaced key must not sign with the old one
    std::unique_ptr<UnexportableSigningKey> key;
  };
  struct Known {
    KeyStore::FileStamp stamp;
    KeyRecord record;
  };

  KeyResult<UnexportableSigningKey*> load(const KeyRecord& record);

  KeyStore store_;
  ProviderLookup providers_;
  std::map<std::string, Loaded, std::less<>> loaded_;
  std::map<std::string, Known, std::less<>> known_;
};

}  // namespace liaison::keys
