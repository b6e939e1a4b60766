// The `software` provider: an OpenSSL P-256 key that lives in a file. It is NOT unexportable: its
// wrapped form is the private key itself, so anyone who can read the stored key file can sign as
// the key. It exists for machines with neither a TPM nor a Secure Enclave, and for tests; every
// command that shows such a key says `hardware_backed: false`.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "keys/unexportable_key.h"

namespace liaison::keys {

inline constexpr std::string_view kSoftwareProviderName = "software";

class SoftwareKeyProvider final : public UnexportableKeyProvider {
 public:
  // The daemon uses it in its own context; the agent builds one with kUserSession.
  explicit SoftwareKeyProvider(KeyContext context = KeyContext::kDaemon) : context_(context) {}

  std::string name() const override { return std::string(kSoftwareProviderName); }
  KeyContext context() const override { return context_; }
  bool hardware_backed() const override { return false; }

  // A fresh ECDSA P-256 key. Its wrapped_key() is the DER PKCS#8 PrivateKeyInfo: the private key
  // itself, in the clear. Store it only in a file of mode 0600 that only its owner can reach.
  KeyResult<std::unique_ptr<UnexportableSigningKey>> generate() override;

  // Loads a DER PKCS#8 P-256 private key (what wrapped_key() returned). Anything else, trailing
  // bytes, or a private half that does not match its public half is a `failed` error.
  KeyResult<std::unique_ptr<UnexportableSigningKey>> from_wrapped(
      std::span<const uint8_t> wrapped) override;

  // Nothing is kept outside the wrapped form: deleting the stored file deletes the key.
  KeyResult<void> erase(std::span<const uint8_t> wrapped) override;

  // The OpenSSL version, and (as `problem`-free facts) that these keys are not hardware-bound.
  KeyResult<ProviderDescription> describe() override;

 private:
  KeyContext context_;
};

}  // namespace liaison::keys
