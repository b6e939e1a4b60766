#include "keys/attestation_statement.h"

#include <gtest/gtest.h>

#include "keys/key_test_support.h"
#include "keys/public_key_formats.h"
#include "keys/software_provider.h"

namespace liaison::keys {
namespace {

using Json = nlohmann::json;
using testing::bytes_of;

// A CBOR byte string's bytes (byte_container_with_subtype is a vector underneath).
Bytes binary(const Json& value) {
  const Bytes& bytes = value.get_binary();
  return bytes;
}

Bytes some_spki() {
  SoftwareKeyProvider provider(KeyContext::kDaemon);
  auto key = provider.generate();
  EXPECT_TRUE(key);
  return (*key)->public_key_spki();
}

// The layout WebAuthn §6.1 gives authenticatorData, byte by byte.
TEST(AttestationStatementTest, AuthenticatorDataIsWhatAnAuthenticatorWouldMake) {
  const Bytes spki = some_spki();
  auto data = webauthn_authenticator_data(spki);
  ASSERT_TRUE(data) << data.error().message;
  ASSERT_EQ(data->size(), 32u + 1 + 4 + 16 + 2 + 32 + 77);
  EXPECT_EQ(Bytes(data->begin(), data->begin() + 32), sha256_of(bytes_of("liaison")));
  EXPECT_EQ((*data)[32], 0x41);                                            // UP | AT
  EXPECT_EQ(Bytes(data->begin() + 33, data->begin() + 53), Bytes(20, 0));  // count, AAGUID
  EXPECT_EQ((*data)[53], 0);
  EXPECT_EQ((*data)[54], 32);  // credential ID length
  EXPECT_EQ(Bytes(data->begin() + 55, data->begin() + 87), sha256_of(spki));
  // The COSE_Key: {1: 2, 3: -7, -1: 1, -2: x, -3: y}, x and y the key's own.
  auto point = p256_point_from_spki(spki);
  ASSERT_TRUE(point);
  const Bytes cose(data->begin() + 87, data->end());
  EXPECT_EQ(Bytes(cose.begin(), cose.begin() + 10),
            (Bytes{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}));
  EXPECT_EQ(Bytes(cose.begin() + 10, cose.begin() + 42), point->x);
  EXPECT_EQ(Bytes(cose.begin() + 42, cose.begin() + 45), (Bytes{0x22, 0x58, 0x20}));
  EXPECT_EQ(Bytes(cose.begin() + 45, cose.end()), point->y);

  EXPECT_FALSE(webauthn_authenticator_data(bytes_of("not a key")));
}

TEST(AttestationStatementTest, ExtraDataIsTheDocumentedHash) {
  const Bytes challenge = bytes_of("the verifier's challenge");
  EXPECT_EQ(tpm_format_extra_data(challenge), sha256_of(challenge));
  const Bytes auth = bytes_of("authData");
  EXPECT_EQ(webauthn_extra_data(auth, challenge),
            sha256_of(bytes_of("authDatathe verifier's challenge")));
}

TEST(AttestationStatementTest, BothFormatsCarryTheSameSixFields) {
  const Certification certification{.certify_info = {1, 2},
                                    .signature = {3},
                                    .public_area = {4, 5, 6},
                                    .ak_certificate_chain = {{7}, {8, 9}}};
  const Json statement = tpm_attestation_statement(certification);
  EXPECT_EQ(statement.at("ver"), "2.0");
  EXPECT_EQ(statement.at("alg"), -7);
  EXPECT_EQ(statement.at("certInfo"), "AQI=");
  EXPECT_EQ(statement.at("sig"), "Aw==");
  EXPECT_EQ(statement.at("pubArea"), "BAUG");
  EXPECT_EQ(statement.at("x5c"), (Json{"Bw==", "CAk="}));

  const Bytes auth = {0xaa, 0xbb};
  const Json object = Json::from_cbor(webauthn_attestation_object(certification, auth));
  EXPECT_EQ(object.at("fmt"), "tpm");
  EXPECT_EQ(binary(object.at("authData")), auth);
  const Json& att = object.at("attStmt");
  EXPECT_EQ(att.at("alg"), -7);
  EXPECT_EQ(att.at("ver"), "2.0");
  EXPECT_EQ(binary(att.at("certInfo")), certification.certify_info);
  EXPECT_EQ(binary(att.at("sig")), certification.signature);
  EXPECT_EQ(binary(att.at("pubArea")), certification.public_area);
  EXPECT_EQ(binary(att.at("x5c").at(1)), (Bytes{8, 9}));
}

}  // namespace
}  // namespace liaison::keys
