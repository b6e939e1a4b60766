#include "keys/unexportable_key.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "keys/openssl_util.h"

namespace liaison::keys {

std::string_view key_context_name(KeyContext context) {
  switch (context) {
    case KeyContext::kDaemon:
      return "daemon";
    case KeyContext::kUserSession:
      return "user-session";
  }
  return "unknown";
}

Bytes sha256(std::span<const uint8_t> data) {
  Bytes digest(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  // Only an allocation failure inside OpenSSL can make this fail: nothing sensible to return.
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error(openssl_error("SHA-256"));
  }
  digest.resize(length);
  return digest;
}

}  // namespace liaison::keys
