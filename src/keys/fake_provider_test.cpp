#include "keys/fake_provider.h"

#include <gtest/gtest.h>

#include "keys/key_test_support.h"

namespace liaison::keys {
namespace {

using testing::bytes_of;
using testing::signature_verifies;

TEST(FakeKeyProvider, ReportsWhatTheTestChose) {
  FakeKeyProvider provider(KeyContext::kUserSession, true, "secure-enclave");
  EXPECT_EQ(provider.name(), "secure-enclave");
  EXPECT_EQ(provider.context(), KeyContext::kUserSession);
  EXPECT_TRUE(provider.hardware_backed());
  provider.set_context(KeyContext::kDaemon);
  provider.set_hardware_backed(false);
  EXPECT_EQ(provider.context(), KeyContext::kDaemon);
  EXPECT_FALSE(provider.hardware_backed());
  EXPECT_FALSE((*provider.generate())->hardware_backed());
}

TEST(FakeKeyProvider, MakesRealSignaturesThatSurviveARoundTrip) {
  FakeKeyProvider provider;
  auto key = provider.generate();
  ASSERT_TRUE(key);
  EXPECT_TRUE((*key)->hardware_backed());
  auto reloaded = provider.from_wrapped((*key)->wrapped_key());
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_EQ((*reloaded)->public_key_spki(), (*key)->public_key_spki());
  auto signature = (*reloaded)->sign_digest(sha256(bytes_of("hello")));
  ASSERT_TRUE(signature);
  EXPECT_TRUE(signature_verifies((*key)->public_key_spki(), bytes_of("hello"), *signature));
}

TEST(FakeKeyProvider, DoesNotLoadAnotherProvidersWrappedKeys) {
  FakeKeyProvider fake;
  SoftwareKeyProvider software;
  EXPECT_FALSE(fake.from_wrapped((*software.generate())->wrapped_key()));
  EXPECT_FALSE(software.from_wrapped((*fake.generate())->wrapped_key()));
}

TEST(FakeKeyProvider, FailsExactlyTheNextOperation) {
  FakeKeyProvider provider;
  auto key = std::move(*provider.generate());
  provider.fail_next({"unavailable", "the TPM went away"});
  auto failed = key->sign_digest(sha256(bytes_of("x")));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, "unavailable");
  EXPECT_EQ(failed.error().message, "the TPM went away");
  EXPECT_TRUE(key->sign_digest(sha256(bytes_of("x"))));

  provider.fail_next({"failed", "no slots"});
  EXPECT_EQ(provider.generate().error().message, "no slots");
  EXPECT_TRUE(provider.generate());
  provider.fail_next({"not_found", "gone"});
  EXPECT_EQ(provider.from_wrapped(key->wrapped_key()).error().code, "not_found");
  provider.fail_next({"failed", "keychain locked"});
  EXPECT_EQ(provider.erase(key->wrapped_key()).error().message, "keychain locked");
  EXPECT_TRUE(provider.erase(key->wrapped_key()));
}

TEST(FakeKeyProvider, CountsCalls) {
  FakeKeyProvider provider;
  auto key = std::move(*provider.generate());
  (void)key->sign_digest(sha256(bytes_of("a")));
  (void)key->sign_digest(sha256(bytes_of("b")));
  (void)provider.from_wrapped(key->wrapped_key());
  (void)provider.erase(key->wrapped_key());
  auto calls = provider.calls();
  EXPECT_EQ(calls.generate, 1);
  EXPECT_EQ(calls.sign, 2);
  EXPECT_EQ(calls.from_wrapped, 1);
  EXPECT_EQ(calls.erase, 1);
}

}  // namespace
}  // namespace liaison::keys
