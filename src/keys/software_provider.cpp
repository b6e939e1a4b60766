#include "keys/software_provider.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "keys/openssl_util.h"

namespace liaison::keys {
namespace {

constexpr std::size_t kSha256DigestSize = 32;

KeyResult<Bytes> encode_pkcs8(EVP_PKEY* key) {
  Pkcs8Ptr info(EVP_PKEY2PKCS8(key));
  if (!info) return std::unexpected(openssl_key_error("software key: encode private key"));
  int length = i2d_PKCS8_PRIV_KEY_INFO(info.get(), nullptr);
  if (length <= 0) return std::unexpected(openssl_key_error("software key: encode private key"));
  Bytes der(static_cast<std::size_t>(length));
  unsigned char* cursor = der.data();
  if (i2d_PKCS8_PRIV_KEY_INFO(info.get(), &cursor) != length) {
    return std::unexpected(openssl_key_error("software key: encode private key"));
  }
  return der;
}

class SoftwareSigningKey final : public UnexportableSigningKey {
 public:
  SoftwareSigningKey(EvpPkeyPtr key, Bytes spki, Bytes pkcs8)
      : key_(std::move(key)), spki_(std::move(spki)), pkcs8_(std::move(pkcs8)) {}
  ~SoftwareSigningKey() override { OPENSSL_cleanse(pkcs8_.data(), pkcs8_.size()); }

  Bytes public_key_spki() const override { return spki_; }
  Bytes wrapped_key() const override { return pkcs8_; }
  bool hardware_backed() const override { return false; }

  KeyResult<Bytes> sign_digest(std::span<const uint8_t> digest) override {
    if (digest.size() != kSha256DigestSize) {
      return std::unexpected(KeyError{
          "invalid_params",
          fmt::format("a SHA-256 digest is {} bytes, got {}", kSha256DigestSize, digest.size())});
    }
    // A context per signature: EVP_PKEY_CTX is not safe to share between threads, the key is.
    EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
    if (!context || EVP_PKEY_sign_init(context.get()) != 1 ||
        // The digest is already hashed: this only tells ECDSA which hash made it.
        EVP_PKEY_CTX_set_signature_md(context.get(), EVP_sha256()) != 1) {
      return std::unexpected(openssl_key_error("software key: prepare to sign"));
    }
    std::size_t length = 0;
    if (EVP_PKEY_sign(context.get(), nullptr, &length, digest.data(), digest.size()) != 1) {
      return std::unexpected(openssl_key_error("software key: sign"));
    }
    Bytes signature(length);
    if (EVP_PKEY_sign(context.get(), signature.data(), &length, digest.data(), digest.size()) !=
        1) {
      return std::unexpected(openssl_key_error("software key: sign"));
    }
    // The first call gives the largest possible DER size; the real one is usually shorter.
    signature.resize(length);
    return signature;
  }

 private:
  EvpPkeyPtr key_;
  Bytes spki_;
  Bytes pkcs8_;
};

KeyResult<std::unique_ptr<UnexportableSigningKey>> make_signing_key(EvpPkeyPtr key) {
  auto spki = encode_spki(key.get());
  if (!spki) return std::unexpected(spki.error());
  auto pkcs8 = encode_pkcs8(key.get());
  if (!pkcs8) return std::unexpected(pkcs8.error());
  return std::make_unique<SoftwareSigningKey>(std::move(key), std::move(*spki),
                                              std::move(*pkcs8));
}

KeyError bad_wrapped_key(std::string reason) {
  return KeyError{"failed", fmt::format("software key: wrapped key is {}", reason)};
}

// A stored private key whose public half was corrupted (or edited) would sign happily and produce
// signatures that verify against nothing: catch it at load time instead.
bool private_matches_public(EVP_PKEY* key) {
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return context && EVP_PKEY_pairwise_check(context.get()) == 1;
}

}  // namespace

KeyResult<std::unique_ptr<UnexportableSigningKey>> SoftwareKeyProvider::generate() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return std::unexpected(openssl_key_error("software key: generate P-256 key"));
  return make_signing_key(std::move(key));
}

KeyResult<std::unique_ptr<UnexportableSigningKey>> SoftwareKeyProvider::from_wrapped(
    std::span<const uint8_t> wrapped) {
  const unsigned char* cursor = wrapped.data();
  Pkcs8Ptr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &cursor, static_cast<long>(wrapped.size())));
  if (!info) {
    return std::unexpected(
        bad_wrapped_key(openssl_error("not a DER PKCS#8 private key (parse)")));
  }
  if (cursor != wrapped.data() + wrapped.size()) {
    return std::unexpected(bad_wrapped_key("followed by trailing bytes"));
  }
  EvpPkeyPtr key(EVP_PKCS82PKEY(info.get()));
  if (!key) return std::unexpected(bad_wrapped_key(openssl_error("not a usable private key")));
  if (!is_p256_key(key.get())) return std::unexpected(bad_wrapped_key("not an EC P-256 key"));
  if (!private_matches_public(key.get())) {
    return std::unexpected(
        bad_wrapped_key(openssl_error("inconsistent: its private and public halves differ")));
  }
  return make_signing_key(std::move(key));
}

KeyResult<void> SoftwareKeyProvider::erase(std::span<const uint8_t>) { return {}; }

}  // namespace liaison::keys
