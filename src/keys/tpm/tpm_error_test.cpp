#include "keys/tpm/tpm_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <tss2_tpm2_types.h>

#include <cerrno>

namespace liaison::keys::tpm {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kTcti = "swtpm:host=127.0.0.1,port=2321";

TEST(TpmBaseRc, StripsTheHandleParameterAndSessionNumber) {
  EXPECT_EQ(tpm_base_rc(TPM2_RC_HANDLE + TPM2_RC_1), TPM2_RC_HANDLE);
  EXPECT_EQ(tpm_base_rc(TPM2_RC_AUTH_FAIL + TPM2_RC_S + TPM2_RC_1), TPM2_RC_AUTH_FAIL);
  EXPECT_EQ(tpm_base_rc(TPM2_RC_VALUE + TPM2_RC_P + TPM2_RC_2), TPM2_RC_VALUE);
  EXPECT_EQ(tpm_base_rc(TPM2_RC_OBJECT_MEMORY), TPM2_RC_OBJECT_MEMORY);
  // Another layer's code keeps its layer, so it never passes for a TPM code.
  EXPECT_EQ(tpm_base_rc(TSS2_TCTI_RC_IO_ERROR), TSS2_TCTI_RC_IO_ERROR);
}

TEST(Classify, RetriesWhatTheTpmSaysToRetry) {
  EXPECT_EQ(classify(TPM2_RC_RETRY), TpmFailureKind::kRetrySoon);
  EXPECT_EQ(classify(TPM2_RC_YIELDED), TpmFailureKind::kRetrySoon);
  EXPECT_EQ(classify(TPM2_RC_TESTING), TpmFailureKind::kRetrySoon);
  // The kernel resource manager (/dev/tpmrm0) and tabrmd answer in their own layer.
  EXPECT_EQ(classify(TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_RETRY), TpmFailureKind::kRetrySoon);
}

TEST(Classify, TellsFullStaleLostAndLockedOutApart) {
  EXPECT_EQ(classify(TPM2_RC_OBJECT_MEMORY), TpmFailureKind::kOutOfObjectMemory);
  EXPECT_EQ(classify(0x902), TpmFailureKind::kOutOfObjectMemory);
  EXPECT_EQ(classify(TPM2_RC_REFERENCE_H0), TpmFailureKind::kStaleHandle);
  EXPECT_EQ(classify(TPM2_RC_REFERENCE_H0 + 1), TpmFailureKind::kStaleHandle);
  EXPECT_EQ(classify(TPM2_RC_HANDLE + TPM2_RC_1), TpmFailureKind::kStaleHandle);
  EXPECT_EQ(classify(TPM2_RC_INITIALIZE), TpmFailureKind::kNotStarted);
  EXPECT_EQ(classify(TSS2_TCTI_RC_IO_ERROR), TpmFailureKind::kConnectionLost);
  EXPECT_EQ(classify(TSS2_ESYS_RC_BAD_SEQUENCE), TpmFailureKind::kConnectionLost);
  EXPECT_EQ(classify(TPM2_RC_LOCKOUT), TpmFailureKind::kLockout);
  EXPECT_EQ(classify(TPM2_RC_BAD_AUTH + TPM2_RC_S + TPM2_RC_1), TpmFailureKind::kNotAuthorized);
  EXPECT_EQ(classify(TPM2_RC_HIERARCHY + TPM2_RC_1), TpmFailureKind::kNotAuthorized);
  EXPECT_EQ(classify(TPM2_RC_INTEGRITY + TPM2_RC_P + TPM2_RC_1), TpmFailureKind::kOther);
  EXPECT_EQ(classify(TSS2_ESYS_RC_MEMORY), TpmFailureKind::kOther);
}

TEST(ToKeyError, LockoutIsUnavailableAndSaysHowToClearIt) {
  KeyError error = to_key_error(TpmFailure{"Esys_Sign", TPM2_RC_LOCKOUT}, kTcti);
  EXPECT_EQ(error.code, "unavailable");
  EXPECT_THAT(error.message, HasSubstr("dictionary-attack lockout"));
  EXPECT_THAT(error.message, HasSubstr("tpm2_dictionarylockout --clear-lockout"));
  EXPECT_THAT(error.message, HasSubstr("Esys_Sign"));
  EXPECT_THAT(error.message, HasSubstr("0x921"));
}

TEST(ToKeyError, NamesTheTpmThatStoppedAnswering) {
  KeyError error = to_key_error(TpmFailure{"Esys_Sign", TSS2_TCTI_RC_IO_ERROR}, kTcti);
  EXPECT_EQ(error.code, "unavailable");
  EXPECT_THAT(error.message, HasSubstr("stopped answering"));
  EXPECT_THAT(error.message, HasSubstr(kTcti));
}

TEST(ToKeyError, FullTpmAuthorizationForeignKeyAndOthers) {
  EXPECT_THAT(to_key_error(TpmFailure{"Esys_Load", TPM2_RC_OBJECT_MEMORY}, kTcti).message,
              HasSubstr("no free object slots"));
  KeyError owner = to_key_error(TpmFailure{"Esys_CreatePrimary", TPM2_RC_BAD_AUTH + 0x900}, kTcti);
  EXPECT_EQ(owner.code, "not_permitted");
  EXPECT_THAT(owner.message, HasSubstr("empty owner password"));
  KeyError foreign =
      to_key_error(TpmFailure{"Esys_Load", TPM2_RC_INTEGRITY + TPM2_RC_P + TPM2_RC_1}, kTcti);
  EXPECT_EQ(foreign.code, "failed");
  EXPECT_THAT(foreign.message, HasSubstr("another TPM"));
  EXPECT_EQ(to_key_error(TpmFailure{"Esys_Sign", TPM2_RC_VALUE + TPM2_RC_P}, kTcti).code, "failed");
}

TEST(TctiLoadError, UnknownModuleAndBadConfigurationAreNamed) {
  KeyError unknown = tcti_load_error("bogus:x", TSS2_TCTI_RC_NOT_SUPPORTED);
  EXPECT_EQ(unknown.code, "unavailable");
  EXPECT_THAT(unknown.message, HasSubstr("unknown TCTI \"bogus\""));
  KeyError bad = tcti_load_error("swtpm:port=x", TSS2_TCTI_RC_BAD_VALUE);
  EXPECT_EQ(bad.code, "unavailable");
  EXPECT_THAT(bad.message, HasSubstr("bad TCTI configuration \"port=x\""));
}

TEST(DeviceOpenError, PermissionDeniedIsNamedAsSuch) {
  KeyError error = device_open_error("/dev/tpmrm0", EACCES);
  EXPECT_EQ(error.code, "not_permitted");
  EXPECT_THAT(error.message, HasSubstr("permission denied on the TPM device /dev/tpmrm0"));
  EXPECT_THAT(error.message, HasSubstr("root:tss"));
}

TEST(DeviceOpenError, MissingAndBusyDevices) {
  KeyError missing = device_open_error("/dev/tpmrm0", ENOENT);
  EXPECT_EQ(missing.code, "unavailable");
  EXPECT_THAT(missing.message, HasSubstr("no TPM device at /dev/tpmrm0"));
  EXPECT_THAT(device_open_error("/dev/tpm0", EBUSY).message, HasSubstr("busy"));
}

}  // namespace
}  // namespace liaison::keys::tpm
