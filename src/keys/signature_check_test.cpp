#include "keys/signature_check.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include "keys/software_provider.h"

namespace liaison::keys {
namespace {

Bytes digest_of(std::span<const uint8_t> message) {
  Bytes digest(SHA256_DIGEST_LENGTH);
  SHA256(message.data(), message.size(), digest.data());
  return digest;
}

TEST(SignatureCheckTest, AcceptsTheKeysSignatureOfThatMessageOnly) {
  SoftwareKeyProvider provider;
  auto key = provider.generate();
  ASSERT_TRUE(key.has_value());
  const Bytes message = {'n', 'o', 'n', 'c', 'e'};
  auto signature = (*key)->sign_digest(digest_of(message));
  ASSERT_TRUE(signature.has_value());
  const Bytes spki = (*key)->public_key_spki();
  EXPECT_TRUE(check_p256_signature(spki, message, *signature).has_value());

  const Bytes other = {'o', 't', 'h', 'e', 'r'};
  auto wrong_message = check_p256_signature(spki, other, *signature);
  ASSERT_FALSE(wrong_message.has_value());
  EXPECT_EQ(wrong_message.error().message, "the signature does not verify with that key");

  auto another_key = provider.generate();
  ASSERT_TRUE(another_key.has_value());
  EXPECT_FALSE(
      check_p256_signature((*another_key)->public_key_spki(), message, *signature).has_value());
  EXPECT_FALSE(check_p256_signature(spki, message, Bytes{0x30, 0x00}).has_value());
  EXPECT_FALSE(check_p256_signature(Bytes{1, 2, 3}, message, *signature).has_value());
}

}  // namespace
}  // namespace liaison::keys
