#include "keys/openssl_util.h"

#include <fmt/format.h>
#include <openssl/err.h>

namespace liaison::keys {

std::string openssl_error(std::string_view what) {
  unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (first == 0) {
    return fmt::format("{}: failed (OpenSSL gave no reason)", what);
  }
  char reason[256];
  ERR_error_string_n(first, reason, sizeof(reason));
  return fmt::format("{}: {}", what, reason);
}

KeyError openssl_key_error(std::string_view what) {
  return KeyError{"failed", openssl_error(what)};
}

bool is_p256_key(const EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) {
    return false;
  }
  char group[64] = {};
  std::size_t group_length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_length) != 1) {
    ERR_clear_error();
    return false;
  }
  std::string_view name(group, group_length);
  return name == "prime256v1" || name == "P-256";
}

KeyResult<EvpPkeyPtr> parse_p256_spki(std::span<const uint8_t> spki) {
  const unsigned char* cursor = spki.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(spki.size())));
  if (!key) {
    return std::unexpected(KeyError{"invalid_params", openssl_error("not a DER public key")});
  }
  if (cursor != spki.data() + spki.size()) {
    return std::unexpected(
        KeyError{"invalid_params", "public key has trailing bytes after its DER encoding"});
  }
  if (!is_p256_key(key.get())) {
    return std::unexpected(KeyError{"invalid_params", "public key is not an EC P-256 key"});
  }
  return key;
}

KeyResult<Bytes> encode_spki(const EVP_PKEY* key) {
  int length = i2d_PUBKEY(key, nullptr);
  if (length <= 0) {
    return std::unexpected(openssl_key_error("encode public key"));
  }
  Bytes spki(static_cast<std::size_t>(length));
  unsigned char* cursor = spki.data();
  if (i2d_PUBKEY(key, &cursor) != length) {
    return std::unexpected(openssl_key_error("encode public key"));
  }
  return spki;
}

}  // namespace liaison::keys
