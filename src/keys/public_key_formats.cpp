#include "keys/public_key_formats.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "keys/openssl_util.h"

namespace liaison::keys {
namespace {

constexpr std::size_t kCoordinateSize = 32;
constexpr std::size_t kPemLineLength = 64;

// DER of SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes: 0 unused
// bits, then an uncompressed point) }, up to the point's 0x04 prefix byte.
constexpr std::array<uint8_t, 27> kP256SpkiPrefix = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};

KeyResult<Bytes> coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return std::unexpected(openssl_key_error("read the public key's coordinates"));
  }
  BignumPtr value(raw);
  Bytes bytes(kCoordinateSize);
  if (BN_bn2binpad(value.get(), bytes.data(), static_cast<int>(bytes.size())) < 0) {
    return std::unexpected(openssl_key_error("read the public key's coordinates"));
  }
  return bytes;
}

Bytes to_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

}  // namespace

std::expected<PublicKeyFormat, std::string> parse_public_key_format(std::string_view name) {
  if (name == "pem") {
    return PublicKeyFormat::kPem;
  }
  if (name == "der") {
    return PublicKeyFormat::kDer;
  }
  if (name == "jwk") {
    return PublicKeyFormat::kJwk;
  }
  return std::unexpected(
      fmt::format("unknown public key format \"{}\": use pem, der or jwk", name));
}

std::string_view public_key_format_name(PublicKeyFormat format) {
  switch (format) {
    case PublicKeyFormat::kPem:
      return "pem";
    case PublicKeyFormat::kDer:
      return "der";
    case PublicKeyFormat::kJwk:
      return "jwk";
  }
  return "unknown";
}

KeyResult<P256Point> p256_point_from_spki(std::span<const uint8_t> spki) {
  auto key = parse_p256_spki(spki);
  if (!key) {
    return std::unexpected(key.error());
  }
  // Read as numbers, not by slicing the DER: that also covers a compressed point encoding.
  auto x = coordinate(key->get(), OSSL_PKEY_PARAM_EC_PUB_X);
  if (!x) {
    return std::unexpected(x.error());
  }
  auto y = coordinate(key->get(), OSSL_PKEY_PARAM_EC_PUB_Y);
  if (!y) {
    return std::unexpected(y.error());
  }
  return P256Point{std::move(*x), std::move(*y)};
}

KeyResult<Bytes> spki_from_p256_point(std::span<const uint8_t> x, std::span<const uint8_t> y) {
  if (x.size() != kCoordinateSize || y.size() != kCoordinateSize) {
    return std::unexpected(
        KeyError{"invalid_params",
                 fmt::format("a P-256 coordinate is 32 bytes, got {} and {}", x.size(), y.size())});
  }
  Bytes spki(kP256SpkiPrefix.begin(), kP256SpkiPrefix.end());
  spki.insert(spki.end(), x.begin(), x.end());
  spki.insert(spki.end(), y.begin(), y.end());
  // OpenSSL checks the point is on the curve while decoding it.
  auto key = parse_p256_spki(spki);
  if (!key) {
    return std::unexpected(key.error());
  }
  return spki;
}

KeyResult<std::string> public_key_pem(std::span<const uint8_t> spki) {
  auto key = parse_p256_spki(spki);
  if (!key) {
    return std::unexpected(key.error());
  }
  return pem_armor("PUBLIC KEY", spki);
}

std::string pem_armor(std::string_view label, std::span<const uint8_t> der) {
  std::string body = base64_encode(der);
  std::string pem = fmt::format("-----BEGIN {}-----\n", label);
  for (std::size_t i = 0; i < body.size(); i += kPemLineLength) {
    pem += body.substr(i, kPemLineLength);
    pem += '\n';
  }
  pem += fmt::format("-----END {}-----\n", label);
  return pem;
}

KeyResult<std::string> jwk_thumbprint(std::span<const uint8_t> spki) {
  auto point = p256_point_from_spki(spki);
  if (!point) {
    return std::unexpected(point.error());
  }
  // Written out by hand rather than by a JSON library: RFC 7638 fixes every byte of this string.
  std::string canonical = fmt::format(R"({{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}})",
                                      base64url_encode(point->x), base64url_encode(point->y));
  return base64url_encode(sha256(to_bytes(canonical)));
}

KeyResult<nlohmann::json> public_key_jwk(std::span<const uint8_t> spki) {
  auto point = p256_point_from_spki(spki);
  if (!point) {
    return std::unexpected(point.error());
  }
  auto thumbprint = jwk_thumbprint(spki);
  if (!thumbprint) {
    return std::unexpected(thumbprint.error());
  }
  return nlohmann::json{{"kty", "EC"},
                        {"crv", "P-256"},
                        {"x", base64url_encode(point->x)},
                        {"y", base64url_encode(point->y)},
                        {"kid", *thumbprint}};
}

KeyResult<Bytes> format_public_key(std::span<const uint8_t> spki, PublicKeyFormat format) {
  switch (format) {
    case PublicKeyFormat::kDer: {
      auto key = parse_p256_spki(spki);
      if (!key) {
        return std::unexpected(key.error());
      }
      return Bytes(spki.begin(), spki.end());
    }
    case PublicKeyFormat::kPem: {
      auto pem = public_key_pem(spki);
      if (!pem) {
        return std::unexpected(pem.error());
      }
      return to_bytes(*pem);
    }
    case PublicKeyFormat::kJwk: {
      auto jwk = public_key_jwk(spki);
      if (!jwk) {
        return std::unexpected(jwk.error());
      }
      return to_bytes(jwk->dump() + "\n");
    }
  }
  return std::unexpected(KeyError{"invalid_params", "unknown public key format"});
}

}  // namespace liaison::keys
