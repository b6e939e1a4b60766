#include "platform/macos/osstatus_errors.h"

#include <gtest/gtest.h>

namespace liaison::platform::macos {
namespace {

struct Row {
  int32_t status;
  const char* code;
  const char* mentions;
};

TEST(OsStatusErrors, MapsEachKnownStatusToACodeAndANamedCause) {
  const Row rows[] = {
      {-34018, "not_permitted", "keychain-access-groups"},
      {-25300, "not_found", "errSecItemNotFound"},
      {-25299, "exists", "errSecDuplicateItem"},
      {-25308, "unavailable", "errSecInteractionNotAllowed"},
      {-25291, "unavailable", "errSecNotAvailable"},
      {-26276, "unavailable", "errSecInternal:"},
      {-2070, "failed", "errSecInternalComponent"},
      {-50, "failed", "errSecParam"},
      {-12345, "failed", "unexpected"},
  };
  for (const auto& row : rows) {
    const auto error = osstatus_error("creating a Secure Enclave key", row.status);
    EXPECT_EQ(error.code, row.code) << row.status;
    EXPECT_NE(error.message.find(row.mentions), std::string::npos) << error.message;
    EXPECT_TRUE(error.message.starts_with("creating a Secure Enclave key: ")) << error.message;
    EXPECT_NE(error.message.find("(OSStatus " + std::to_string(row.status) + ")"),
              std::string::npos)
        << error.message;
  }
}

TEST(OsStatusErrors, MissingEntitlementPointsToTheDocs) {
  const auto error = osstatus_error("signing", kErrSecMissingEntitlement);
  EXPECT_NE(error.message.find("docs/macos.md"), std::string::npos);
  EXPECT_NE(error.message.find("provisioning profile"), std::string::npos);
}

}  // namespace
}  // namespace liaison::platform::macos
