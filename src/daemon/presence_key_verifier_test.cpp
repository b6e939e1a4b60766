#include "daemon/presence_key_verifier.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include "keys/base64.h"
#include "keys/software_provider.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;

std::vector<uint8_t> digest_of(std::span<const uint8_t> message) {
  std::vector<uint8_t> digest(SHA256_DIGEST_LENGTH);
  SHA256(message.data(), message.size(), digest.data());
  return digest;
}

TEST(PresenceChallengeTest, NamesTheUseTheSessionAndTheNonce) {
  const std::vector<uint8_t> nonce(kPresenceNonceBytes, 0xab);
  const auto challenge = presence_challenge("3", nonce);
  const std::string text(challenge.begin(), challenge.begin() + 22);
  EXPECT_EQ(text, std::string("liaison presence v1\0"
                              "3\0",
                              22));
  EXPECT_EQ(challenge.size(), 22 + kPresenceNonceBytes);
  EXPECT_NE(presence_challenge("4", nonce), challenge) << "another session, another challenge";
}

class PresenceSignatureTest : public testing::Test {
 protected:
  PresenceSignatureTest() : key_(std::move(*keys::SoftwareKeyProvider().generate())) {}

  Json signed_by(keys::UnexportableSigningKey& key, std::span<const uint8_t> message) {
    return {{"signature", keys::base64_encode(*key.sign_digest(digest_of(message)))},
            {"public_key", keys::base64_encode(key.public_key_spki())}};
  }

  std::unique_ptr<keys::UnexportableSigningKey> key_;
  std::vector<uint8_t> challenge_ = presence_challenge("3", std::vector<uint8_t>(32, 7));
};

TEST_F(PresenceSignatureTest, OnlyTheEnrolledKeysSignatureOfThisChallengeConfirms) {
  const auto spki = key_->public_key_spki();
  EXPECT_EQ(presence_signature_outcome(signed_by(*key_, challenge_), spki, challenge_).result,
            PresenceResult::kConfirmed);
  const auto other_challenge = presence_challenge("3", std::vector<uint8_t>(32, 8));
  EXPECT_EQ(presence_signature_outcome(signed_by(*key_, other_challenge), spki, challenge_).result,
            PresenceResult::kDenied)
      << "an old signature answers no new challenge";
  Json garbage = {{"signature", "AAAA"}};
  EXPECT_EQ(presence_signature_outcome(garbage, spki, challenge_).result, PresenceResult::kDenied);
}

TEST_F(PresenceSignatureTest, AnotherKeyThanTheEnrolledOneIsUnavailableNotDenied) {
  auto other = std::move(*keys::SoftwareKeyProvider().generate());
  auto outcome = presence_signature_outcome(signed_by(*other, challenge_), key_->public_key_spki(),
                                            challenge_);
  EXPECT_EQ(outcome.result, PresenceResult::kUnavailable);
  EXPECT_NE(outcome.detail.find("not the one enrolled"), std::string::npos) << outcome.detail;
}

TEST_F(PresenceSignatureTest, TheAgentsErrorsMapToResults) {
  const auto spki = key_->public_key_spki();
  auto result_of = [&](const Error& error) {
    return presence_signature_outcome(std::unexpected(error), spki, challenge_).result;
  };
  EXPECT_EQ(result_of(Error::application("denied", "the user dismissed the prompt")),
            PresenceResult::kDenied);
  EXPECT_EQ(result_of(Error::application("timeout", "withdrawn")), PresenceResult::kTimeout);
  EXPECT_EQ(result_of(Error::method_not_found("presence.sign")), PresenceResult::kUnavailable);
  EXPECT_EQ(result_of(Error::application("unavailable", "no Secure Enclave")),
            PresenceResult::kUnavailable);
}

}  // namespace
}  // namespace liaison::daemon
