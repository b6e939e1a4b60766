#include "keys/tpm/credential.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "keys/key_test_support.h"

namespace liaison::keys::tpm {
namespace {

using ::testing::HasSubstr;

Bytes header() { return {0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1}; }

Bytes file_of(const Bytes& blob, const Bytes& secret) {
  Bytes file = header();
  for (const Bytes* part : {&blob, &secret}) {
    file.push_back(static_cast<uint8_t>(part->size() >> 8));
    file.push_back(static_cast<uint8_t>(part->size() & 0xff));
    file.insert(file.end(), part->begin(), part->end());
  }
  return file;
}

TEST(CredentialFileTest, ReadsTheBlobAndTheSecret) {
  auto credential = parse_credential_file(file_of(Bytes(50, 0xaa), Bytes(256, 0x55)));
  ASSERT_TRUE(credential) << credential.error().message;
  EXPECT_EQ(credential->blob.size, 50);
  EXPECT_EQ(credential->blob.credential[49], 0xaa);
  EXPECT_EQ(credential->secret.size, 256);
  EXPECT_EQ(credential->secret.secret[0], 0x55);
}

TEST(CredentialFileTest, EverythingElseIsRefusedSayingWhat) {
  const Bytes good = file_of(Bytes(50, 1), Bytes(256, 2));
  struct Case {
    Bytes file;
    const char* says;
  };
  Bytes wrong_magic = good;
  wrong_magic[0] = 0;
  Bytes wrong_version = good;
  wrong_version[7] = 2;
  Bytes cut = good;
  cut.resize(good.size() - 1);
  Bytes trailing = good;
  trailing.push_back(0);
  Bytes oversized = header();
  oversized.insert(oversized.end(), {0xff, 0xff});  // a blob longer than TPM2B_ID_OBJECT holds
  oversized.resize(oversized.size() + 0xffff);
  const Case cases[] = {
      {{}, "shorter than its header"},
      {wrong_magic, "magic 0x00dcc0de"},
      {wrong_version, "version 2"},
      {cut, "encrypted secret is cut short"},
      {trailing, "1 bytes after the secret"},
      {oversized, "credential blob is cut short or too long"},
      {file_of({}, Bytes(4, 1)), "empty"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_credential_file(c.file);
    ASSERT_FALSE(parsed) << c.says;
    EXPECT_EQ(parsed.error().code, "invalid_params");
    EXPECT_THAT(parsed.error().message, HasSubstr(c.says));
    EXPECT_THAT(parsed.error().message, HasSubstr("tpm2_makecredential"));
  }
}

}  // namespace
}  // namespace liaison::keys::tpm
