#include "keys/software_provider.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mutex>
#include <vector>

#include "keys/openssl_util.h"

namespace liaison::keys {
namespace {

constexpr std::size_t kSha256DigestSize = 32;
// Enough for every signer a daemon runs at once; beyond that, contexts are freed, not kept.
constexpr std::size_t kMaxIdleSigningContexts = 16;

using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, OpenSslDeleter<OSSL_DECODER_CTX_free>>;

KeyResult<Bytes> encode_pkcs8(EVP_PKEY* key) {
  Pkcs8Ptr info(EVP_PKEY2PKCS8(key));
  if (!info) {
    return std::unexpected(openssl_key_error("software key: encode private key"));
  }
  int length = i2d_PKCS8_PRIV_KEY_INFO(info.get(), nullptr);
  if (length <= 0) {
    return std::unexpected(openssl_key_error("software key: encode private key"));
  }
  Bytes der(static_cast<std::size_t>(length));
  unsigned char* cursor = der.data();
  if (i2d_PKCS8_PRIV_KEY_INFO(info.get(), &cursor) != length) {
    return std::unexpected(openssl_key_error("software key: encode private key"));
  }
  return der;
}

// Signing contexts ready to sign with one key, reused. In OpenSSL 3.0 making and initialising an
// EVP_PKEY_CTX costs a good fraction of an ECDSA signature; a context must not be used by two
// threads at once, so each signer takes one of its own and hands it back.
class SigningContextPool {
 public:
  explicit SigningContextPool(EVP_PKEY* key) : key_(key) {}

  KeyResult<EvpPkeyCtxPtr> take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        EvpPkeyCtxPtr context = std::move(idle_.back());
        idle_.pop_back();
        return context;
      }
    }
    EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_pkey(nullptr, key_, nullptr));
    if (!context || EVP_PKEY_sign_init(context.get()) != 1 ||
        // The digest is already hashed: this only tells ECDSA which hash made it.
        EVP_PKEY_CTX_set_signature_md(context.get(), EVP_sha256()) != 1) {
      return std::unexpected(openssl_key_error("software key: prepare to sign"));
    }
    return context;
  }

  void give_back(EvpPkeyCtxPtr context) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdleSigningContexts) {
      idle_.push_back(std::move(context));
    }
  }

 private:
  EVP_PKEY* key_;
  std::mutex mutex_;
  std::vector<EvpPkeyCtxPtr> idle_;
};

class SoftwareSigningKey final : public UnexportableSigningKey {
 public:
  SoftwareSigningKey(EvpPkeyPtr key, Bytes spki, Bytes pkcs8)
      : key_(std::move(key)),
        spki_(std::move(spki)),
        pkcs8_(std::move(pkcs8)),
        contexts_(key_.get()) {}
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
    auto context = contexts_.take();
    if (!context) {
      return std::unexpected(context.error());
    }
    auto signature = sign_with(context->get(), digest);
    // A context that failed is in an unknown state: let it go rather than reuse it.
    if (signature) {
      contexts_.give_back(std::move(*context));
    }
    return signature;
  }

 private:
  static KeyResult<Bytes> sign_with(EVP_PKEY_CTX* context, std::span<const uint8_t> digest) {
    std::size_t length = 0;
    if (EVP_PKEY_sign(context, nullptr, &length, digest.data(), digest.size()) != 1) {
      return std::unexpected(openssl_key_error("software key: sign"));
    }
    Bytes signature(length);
    if (EVP_PKEY_sign(context, signature.data(), &length, digest.data(), digest.size()) != 1) {
      return std::unexpected(openssl_key_error("software key: sign"));
    }
    // The first call gives the largest possible DER size; the real one is usually shorter.
    signature.resize(length);
    return signature;
  }

  EvpPkeyPtr key_;  // declared first: the contexts below refer to it
  Bytes spki_;
  Bytes pkcs8_;
  SigningContextPool contexts_;
};

KeyResult<std::unique_ptr<UnexportableSigningKey>> make_signing_key(EvpPkeyPtr key, Bytes pkcs8) {
  auto spki = encode_spki(key.get());
  if (!spki) {
    return std::unexpected(spki.error());
  }
  return std::make_unique<SoftwareSigningKey>(std::move(key), std::move(*spki), std::move(pkcs8));
}

KeyError bad_wrapped_key(std::string reason) {
  return KeyError{"failed", fmt::format("software key: wrapped key is {}", reason)};
}

// Decodes exactly a PKCS#8 PrivateKeyInfo holding an EC key. Naming the structure and key type
// matters: OpenSSL 3.0's generic EVP_PKCS82PKEY tries every decoder and is three times slower.
KeyResult<EvpPkeyPtr> decode_ec_pkcs8(std::span<const uint8_t> der) {
  EVP_PKEY* decoded = nullptr;
  DecoderCtxPtr decoder(OSSL_DECODER_CTX_new_for_pkey(&decoded, "DER", "PrivateKeyInfo", "EC",
                                                      EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (!decoder) {
    return std::unexpected(openssl_key_error("software key: set up key decoding"));
  }
  const unsigned char* cursor = der.data();
  std::size_t left = der.size();
  int decoded_ok = OSSL_DECODER_from_data(decoder.get(), &cursor, &left);
  EvpPkeyPtr key(decoded);
  if (decoded_ok != 1 || !key) {
    return std::unexpected(bad_wrapped_key(openssl_error("not an EC private key")));
  }
  return key;
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
  if (!key) {
    return std::unexpected(openssl_key_error("software key: generate P-256 key"));
  }
  auto pkcs8 = encode_pkcs8(key.get());
  if (!pkcs8) {
    return std::unexpected(pkcs8.error());
  }
  return make_signing_key(std::move(key), std::move(*pkcs8));
}

KeyResult<std::unique_ptr<UnexportableSigningKey>> SoftwareKeyProvider::from_wrapped(
    std::span<const uint8_t> wrapped) {
  // The ASN.1 structure first (cheap, and it tells trailing bytes apart), then the key in it.
  const unsigned char* cursor = wrapped.data();
  Pkcs8Ptr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &cursor, static_cast<long>(wrapped.size())));
  if (!info) {
    return std::unexpected(bad_wrapped_key(openssl_error("not a DER PKCS#8 private key (parse)")));
  }
  if (cursor != wrapped.data() + wrapped.size()) {
    return std::unexpected(bad_wrapped_key("followed by trailing bytes"));
  }
  auto key = decode_ec_pkcs8(wrapped);
  if (!key) {
    return std::unexpected(key.error());
  }
  if (!is_p256_key(key->get())) {
    return std::unexpected(bad_wrapped_key("not an EC P-256 key"));
  }
  if (!private_matches_public(key->get())) {
    return std::unexpected(
        bad_wrapped_key(openssl_error("inconsistent: its private and public halves differ")));
  }
  // Kept as given rather than re-encoded, so wrapped_key() round-trips byte for byte.
  return make_signing_key(std::move(*key), Bytes(wrapped.begin(), wrapped.end()));
}

KeyResult<void> SoftwareKeyProvider::erase(std::span<const uint8_t>) { return {}; }

KeyResult<ProviderDescription> SoftwareKeyProvider::describe() {
  const std::string version = OpenSSL_version(OPENSSL_VERSION);
  return ProviderDescription{
      .summary =
          fmt::format("{}: keys are files readable by their owner, NOT hardware-bound", version),
      .facts = {{"library", version}, {"hardware_backed", false}},
      .problem = "",
      .fix = ""};
}

}  // namespace liaison::keys
