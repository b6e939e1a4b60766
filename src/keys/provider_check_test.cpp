#include "keys/provider_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "keys/fake_provider.h"
#include "keys/software_provider.h"

namespace liaison::keys {
namespace {

using protocol::Finding;
using ::testing::HasSubstr;

TEST(CheckProvider, AReachableHardwareProviderIsOkAndSaysWhereFrom) {
  FakeKeyProvider tpm(KeyContext::kDaemon, true, "tpm");
  Finding finding = check_provider("tpm", &tpm, "the daemon");
  EXPECT_EQ(finding.status, Finding::Status::kOk);
  EXPECT_EQ(finding.check, "tpm");
  EXPECT_THAT(finding.detail, HasSubstr("from the daemon"));
  EXPECT_EQ(finding.facts.at("fake"), true);
  EXPECT_EQ(tpm.calls().describe, 1);
}

TEST(CheckProvider, SoftwareKeysAreShownAsInformationThatSaysNotHardwareBound) {
  SoftwareKeyProvider software;
  Finding finding = check_provider("software", &software, "the daemon");
  EXPECT_EQ(finding.status, Finding::Status::kInfo);
  EXPECT_EQ(finding.check, "software-keys");
  EXPECT_THAT(finding.detail, HasSubstr("NOT hardware-bound"));
  EXPECT_THAT(finding.detail, HasSubstr("OpenSSL"));
}

TEST(CheckProvider, ATpmThatCannotBeOpenedFailsWithAFix) {
  Finding finding = check_provider(
      "tpm", std::unexpected(KeyError{"unavailable", "no TPM at /dev/tpmrm0: No such file"}),
      "the daemon");
  EXPECT_TRUE(finding.failed());
  EXPECT_THAT(finding.detail, HasSubstr("no TPM at /dev/tpmrm0"));
  EXPECT_THAT(finding.hint, HasSubstr("tpm_tcti"));
}

TEST(CheckProvider, ATpmDeviceTheUserMayNotOpenPointsAtGroupTss) {
  Finding finding = check_provider(
      "tpm", std::unexpected(KeyError{"not_permitted", "/dev/tpmrm0: Permission denied"}),
      "alice's session");
  EXPECT_TRUE(finding.failed());
  EXPECT_THAT(finding.hint, HasSubstr("group tss"));
  EXPECT_THAT(finding.hint, HasSubstr("alice's session"));
}

TEST(CheckProvider, AMissingEntitlementNamesTheEntitlement) {
  Finding finding = check_provider(
      "secure-enclave",
      std::unexpected(KeyError{"not_permitted", "errSecMissingEntitlement (-34018)"}),
      "alice's session");
  EXPECT_TRUE(finding.failed());
  EXPECT_THAT(finding.hint, HasSubstr("keychain-access-groups"));
}

TEST(CheckProvider, AProviderThatFailsToDescribeItselfFails) {
  FakeKeyProvider tpm(KeyContext::kDaemon, true, "tpm");
  tpm.fail_next(KeyError{"unavailable", "the TPM stopped answering"});
  Finding finding = check_provider("tpm", &tpm, "the daemon");
  EXPECT_TRUE(finding.failed());
  EXPECT_THAT(finding.detail, HasSubstr("stopped answering"));
}

}  // namespace
}  // namespace liaison::keys
