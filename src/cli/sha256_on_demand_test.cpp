#include "cli/sha256_on_demand.h"

#include <gtest/gtest.h>

#include <string_view>

#include "keys/base64.h"

namespace liaison::cli {
namespace {

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// FIPS 180-2, appendix B.1 and B.2: the digests of "abc" and of the 56-byte message.
TEST(Sha256OnDemandTest, GivesTheStandardsDigests) {
  auto abc = sha256_on_demand(bytes_of("abc"));
  ASSERT_TRUE(abc) << abc.error();
  EXPECT_EQ(keys::base64_encode(*abc), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  auto two_blocks =
      sha256_on_demand(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"));
  ASSERT_TRUE(two_blocks) << two_blocks.error();
  EXPECT_EQ(keys::base64_encode(*two_blocks), "JI1qYdIGOLjlwCaTDD5gOaM85Flk/yFn9uzt1BnbBsE=");
}

TEST(Sha256OnDemandTest, HashesNothingToo) {
  auto empty = sha256_on_demand({});
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_EQ(keys::base64_encode(*empty), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

}  // namespace
}  // namespace liaison::cli
