#include "keys/tpm/tpm_key_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "keys/key_test_support.h"
#include "keys/openssl_util.h"

namespace liaison::keys::tpm {
namespace {

using testing::from_hex;
using ::testing::HasSubstr;

// The P-256 base point G, a point surely on the curve.
const Bytes kGeneratorX =
    from_hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
const Bytes kGeneratorY =
    from_hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");

void set(TPM2B_ECC_PARAMETER& parameter, const Bytes& value) {
  parameter.size = static_cast<UINT16>(value.size());
  std::copy(value.begin(), value.end(), parameter.buffer);
}

TpmKeyBlob sample_blob() {
  TpmKeyBlob blob;
  blob.public_area = signing_key_template();
  set(blob.public_area.publicArea.unique.ecc.x, kGeneratorX);
  set(blob.public_area.publicArea.unique.ecc.y, kGeneratorY);
  blob.private_area.size = 126;
  for (int i = 0; i < 126; ++i) {
    blob.private_area.buffer[i] = static_cast<BYTE>(i * 7);
  }
  return blob;
}

Bytes wrapped_sample() {
  auto wrapped = wrap_key_blob(sample_blob());
  if (!wrapped) {
    throw std::runtime_error(wrapped.error().message);
  }
  return *wrapped;
}

TEST(WrappedForm, RoundTrips) {
  Bytes wrapped = wrapped_sample();
  EXPECT_EQ(std::string(wrapped.begin(), wrapped.begin() + 4), "LTPK");
  EXPECT_EQ(wrapped[4], 1);
  auto blob = unwrap_key_blob(wrapped);
  ASSERT_TRUE(blob) << blob.error().message;
  auto again = wrap_key_blob(*blob);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, wrapped);
  EXPECT_EQ(blob->private_area.size, 126);
}

TEST(WrappedForm, RefusesGarbageClearly) {
  Bytes wrapped = wrapped_sample();
  auto refused = [](const Bytes& bytes) {
    auto blob = unwrap_key_blob(bytes);
    EXPECT_FALSE(blob);
    return blob ? KeyError{} : blob.error();
  };
  EXPECT_EQ(refused({}).code, "failed");
  EXPECT_THAT(refused({}).message, HasSubstr("not a liaison TPM key: no LTPK header"));
  EXPECT_THAT(refused(testing::bytes_of("-----BEGIN PRIVATE KEY-----")).message,
              HasSubstr("no LTPK header"));

  Bytes newer = wrapped;
  newer[4] = 2;
  EXPECT_THAT(refused(newer).message, HasSubstr("format version 2"));

  Bytes truncated(wrapped.begin(), wrapped.end() - 1);
  EXPECT_THAT(refused(truncated).message, HasSubstr("private area is cut short"));
  Bytes header_only(wrapped.begin(), wrapped.begin() + 7);
  EXPECT_THAT(refused(header_only).message, HasSubstr("public area is cut short"));

  Bytes longer = wrapped;
  longer.push_back(0);
  EXPECT_THAT(refused(longer).message, HasSubstr("1 unexpected bytes"));
}

TEST(WrappedForm, RefusesKeysThatAreNotP256SigningKeys) {
  TpmKeyBlob parent = sample_blob();
  parent.public_area = storage_root_key_template();
  auto wrapped = wrap_key_blob(parent);
  ASSERT_TRUE(wrapped);
  auto blob = unwrap_key_blob(*wrapped);
  ASSERT_FALSE(blob);
  EXPECT_THAT(blob.error().message, HasSubstr("not a P-256 ECDSA/SHA-256 signing key"));
}

TEST(Spki, IsTheFixedP256PrefixAndThePoint) {
  TpmKeyBlob blob = sample_blob();
  auto spki = spki_from_public_area(blob.public_area);
  ASSERT_TRUE(spki) << spki.error().message;
  ASSERT_EQ(spki->size(), 91u);
  Bytes expected = from_hex("3059301306072a8648ce3d020106082a8648ce3d03010703420004");
  expected.insert(expected.end(), kGeneratorX.begin(), kGeneratorX.end());
  expected.insert(expected.end(), kGeneratorY.begin(), kGeneratorY.end());
  EXPECT_EQ(*spki, expected);
  EXPECT_TRUE(parse_p256_spki(*spki));
}

TEST(Spki, RefusesPointsOffTheCurveAndOversizedCoordinates) {
  TpmKeyBlob off_curve = sample_blob();
  Bytes y = kGeneratorY;
  y[31] = static_cast<uint8_t>(y[31] ^ 1);
  set(off_curve.public_area.publicArea.unique.ecc.y, y);
  EXPECT_FALSE(spki_from_public_area(off_curve.public_area));

  TpmKeyBlob oversized = sample_blob();
  Bytes x = kGeneratorX;
  x.insert(x.begin(), 0);
  set(oversized.public_area.publicArea.unique.ecc.x, x);
  EXPECT_FALSE(spki_from_public_area(oversized.public_area));
}

TEST(DerSignature, EncodesRAndSAsAsn1Integers) {
  TPMT_SIGNATURE signature{};
  signature.sigAlg = TPM2_ALG_ECDSA;
  signature.signature.ecdsa.hash = TPM2_ALG_SHA256;
  set(signature.signature.ecdsa.signatureR, from_hex("01"));
  set(signature.signature.ecdsa.signatureS, from_hex("80"));
  auto der = der_signature_from_tpm(signature);
  ASSERT_TRUE(der) << der.error().message;
  // SEQUENCE { INTEGER 1, INTEGER 0x0080 (a leading zero keeps it positive) }
  EXPECT_EQ(*der, from_hex("3007020101020200"
                           "80"));

  signature.sigAlg = TPM2_ALG_RSASSA;
  EXPECT_FALSE(der_signature_from_tpm(signature));
}

}  // namespace
}  // namespace liaison::keys::tpm
