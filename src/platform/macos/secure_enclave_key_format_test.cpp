#include "platform/macos/secure_enclave_key_format.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace liaison::platform::macos {
namespace {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using EvpPkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// A fresh P-256 key's X9.63 point, as SecKeyCopyExternalRepresentation returns it.
std::vector<uint8_t> fresh_point(EvpPkey& key) {
  key.reset(EVP_EC_gen("P-256"));
  EXPECT_NE(key, nullptr);
  size_t size = 0;
  EVP_PKEY_get_octet_string_param(key.get(), "encoded-pub-key", nullptr, 0, &size);
  std::vector<uint8_t> point(size);
  EVP_PKEY_get_octet_string_param(key.get(), "encoded-pub-key", point.data(), point.size(), &size);
  return point;
}

TEST(SecureEnclaveKeyFormat, SpkiIsWhatOpenSslWritesForTheSameKey) {
  EvpPkey key;
  const auto point = fresh_point(key);
  ASSERT_EQ(point.size(), kX963P256PointSize);
  const auto spki = p256_spki_from_x963(point);
  ASSERT_TRUE(spki.has_value()) << spki.error();
  EXPECT_EQ(spki->size(), 91u);

  unsigned char* der = nullptr;
  const int der_size = i2d_PUBKEY(key.get(), &der);
  ASSERT_GT(der_size, 0);
  const std::vector<uint8_t> openssl_spki(der, der + der_size);
  OPENSSL_free(der);
  EXPECT_EQ(*spki, openssl_spki);
}

TEST(SecureEnclaveKeyFormat, RejectsWhatIsNotAnUncompressedPoint) {
  std::vector<uint8_t> compressed(33, 0x02);
  EXPECT_FALSE(p256_spki_from_x963(compressed).has_value());
  std::vector<uint8_t> wrong_prefix(65, 0x05);
  EXPECT_FALSE(p256_spki_from_x963(wrong_prefix).has_value());
  EXPECT_FALSE(p256_spki_from_x963({}).has_value());
}

}  // namespace
}  // namespace liaison::platform::macos
