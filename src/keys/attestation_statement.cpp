#include "keys/attestation_statement.h"

#include <openssl/evp.h>

#include <array>

#include "keys/base64.h"
#include "keys/public_key_formats.h"

namespace liaison::keys {
namespace {

using Json = nlohmann::json;

constexpr uint8_t kFlagsUserPresentAttestedData = 0x41;  // UP (bit 0) | AT (bit 6)
constexpr std::size_t kAaguidSize = 16;
constexpr std::size_t kSignCountSize = 4;

// The COSE_Key of a P-256 key, CBOR by hand: one fixed shape (RFC 9053), five integer-keyed
// entries that nlohmann's CBOR writer (string keys only) cannot express.
Bytes cose_key_es256(const P256Point& point) {
  Bytes key = {0xa5,               // map of 5
               0x01, 0x02,         // kty: EC2
               0x03, 0x26,         // alg: -7 (ES256)
               0x20, 0x01,         // crv (-1): P-256
               0x21, 0x58, 0x20};  // x (-2): a 32-byte string
  key.insert(key.end(), point.x.begin(), point.x.end());
  key.insert(key.end(), {0x22, 0x58, 0x20});  // y (-3): a 32-byte string
  key.insert(key.end(), point.y.begin(), point.y.end());
  return key;
}

Json statement_fields(const Certification& certification, bool binary) {
  auto field = [&](const Bytes& bytes) {
    return binary ? Json::binary(bytes) : Json(base64_encode(bytes));
  };
  Json x5c = Json::array();
  for (const Bytes& certificate : certification.ak_certificate_chain) {
    x5c.push_back(field(certificate));
  }
  return {{"ver", "2.0"},
          {"alg", kCoseEs256},
          {"x5c", x5c},
          {"sig", field(certification.signature)},
          {"certInfo", field(certification.certify_info)},
          {"pubArea", field(certification.public_area)}};
}

}  // namespace

Bytes sha256_of(std::span<const uint8_t> data) {
  Bytes digest(32);
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

KeyResult<Bytes> webauthn_authenticator_data(std::span<const uint8_t> spki,
                                             std::string_view rp_id) {
  auto point = p256_point_from_spki(spki);
  if (!point) {
    return std::unexpected(point.error());
  }
  const auto* rp = reinterpret_cast<const uint8_t*>(rp_id.data());
  Bytes data = sha256_of({rp, rp_id.size()});
  data.push_back(kFlagsUserPresentAttestedData);
  data.insert(data.end(), kSignCountSize, 0);
  data.insert(data.end(), kAaguidSize, 0);
  const Bytes credential_id = sha256_of(spki);
  data.push_back(static_cast<uint8_t>(credential_id.size() >> 8));
  data.push_back(static_cast<uint8_t>(credential_id.size() & 0xff));
  data.insert(data.end(), credential_id.begin(), credential_id.end());
  const Bytes key = cose_key_es256(*point);
  data.insert(data.end(), key.begin(), key.end());
  return data;
}

Bytes tpm_format_extra_data(std::span<const uint8_t> challenge) { return sha256_of(challenge); }

Bytes webauthn_extra_data(std::span<const uint8_t> authenticator_data,
                          std::span<const uint8_t> challenge) {
  Bytes signed_over(authenticator_data.begin(), authenticator_data.end());
  signed_over.insert(signed_over.end(), challenge.begin(), challenge.end());
  return sha256_of(signed_over);
}

Json tpm_attestation_statement(const Certification& certification) {
  return statement_fields(certification, /*binary=*/false);
}

Bytes webauthn_attestation_object(const Certification& certification,
                                  std::span<const uint8_t> authenticator_data) {
  const Json object = {
      {"fmt", "tpm"},
      {"attStmt", statement_fields(certification, /*binary=*/true)},
      {"authData", Json::binary(Bytes(authenticator_data.begin(), authenticator_data.end()))}};
  return Json::to_cbor(object);
}

}  // namespace liaison::keys
