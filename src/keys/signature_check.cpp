#include "keys/signature_check.h"

#include <openssl/evp.h>

#include "keys/openssl_util.h"

namespace liaison::keys {

KeyResult<void> check_p256_public_key(std::span<const uint8_t> spki) {
  auto key = parse_p256_spki(spki);
  if (!key) {
    return std::unexpected(key.error());
  }
  return {};
}

KeyResult<void> check_p256_signature(std::span<const uint8_t> spki,
                                     std::span<const uint8_t> message,
                                     std::span<const uint8_t> signature) {
  auto key = parse_p256_spki(spki);
  if (!key) {
    return std::unexpected(key.error());
  }
  EvpMdCtxPtr context(EVP_MD_CTX_new());
  if (!context ||
      EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key->get()) != 1) {
    return std::unexpected(openssl_key_error("set up the signature check"));
  }
  const int verified = EVP_DigestVerify(context.get(), signature.data(), signature.size(),
                                        message.data(), message.size());
  if (verified != 1) {
    openssl_error("");  // an invalid signature queues errors of its own: not the next call's
    return std::unexpected(KeyError{"failed", "the signature does not verify with that key"});
  }
  return {};
}

}  // namespace liaison::keys
