// A P-256 public key in the forms people and tools ask for: PEM and DER SubjectPublicKeyInfo
// (what `openssl` reads) and JWK (RFC 7517) with an RFC 7638 thumbprint as its `kid`.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "keys/base64.h"
#include "keys/unexportable_key.h"

namespace liaison::keys {

enum class PublicKeyFormat { kPem, kDer, kJwk };

// "pem", "der", "jwk" (the values of `liaison key public --format`).
std::expected<PublicKeyFormat, std::string> parse_public_key_format(std::string_view name);
std::string_view public_key_format_name(PublicKeyFormat format);

// The affine coordinates of a P-256 public key: 32 big-endian bytes each.
struct P256Point {
  Bytes x;
  Bytes y;
};

// Errors are `invalid_params`: not DER, trailing bytes, not EC, not P-256.
KeyResult<P256Point> p256_point_from_spki(std::span<const uint8_t> spki);

// The DER SubjectPublicKeyInfo of the point (x, y), uncompressed; refuses a point not on the curve.
// For providers that get raw coordinates from their hardware (TPM2B_ECC_POINT, SecKeyCopy...).
KeyResult<Bytes> spki_from_p256_point(std::span<const uint8_t> x, std::span<const uint8_t> y);

// "-----BEGIN PUBLIC KEY-----\n", base64 of the DER in lines of 64, "-----END PUBLIC KEY-----\n".
KeyResult<std::string> public_key_pem(std::span<const uint8_t> spki);

// PEM armor (RFC 7468) of any DER: "-----BEGIN <label>-----", base64 in lines of 64, "-----END
// <label>-----", each line ending in a newline. No check of what the DER holds.
std::string pem_armor(std::string_view label, std::span<const uint8_t> der);

// {"crv":"P-256","kid":<thumbprint>,"kty":"EC","x":<b64url>,"y":<b64url>}.
KeyResult<nlohmann::json> public_key_jwk(std::span<const uint8_t> spki);

// RFC 7638: base64url(SHA-256({"crv":"P-256","kty":"EC","x":"...","y":"..."})), the members in
// lexicographic order, no whitespace.
KeyResult<std::string> jwk_thumbprint(std::span<const uint8_t> spki);

// Exactly what `liaison key public --format F` writes: PEM text, the DER bytes as they are, or
// the JWK as one line of compact JSON. PEM and JWK end in a newline; DER does not.
KeyResult<Bytes> format_public_key(std::span<const uint8_t> spki, PublicKeyFormat format);

}  // namespace liaison::keys
