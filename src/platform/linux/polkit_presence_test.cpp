#include "platform/linux/polkit_presence.h"

#include <gtest/gtest.h>

namespace liaison::platform {
namespace {

using daemon::PresenceResult;

TEST(PolkitPresenceTest, AnAuthorizationIsAConfirmation) {
  EXPECT_EQ(presence_outcome_of(true, false, false, "3").result, PresenceResult::kConfirmed);
}

TEST(PolkitPresenceTest, AChallengeAfterAllowingInteractionMeansNobodyCouldAsk) {
  auto outcome = presence_outcome_of(false, true, false, "3");
  EXPECT_EQ(outcome.result, PresenceResult::kNoAgent);
  EXPECT_NE(outcome.detail.find("no polkit authentication agent is registered for session 3"),
            std::string::npos)
      << outcome.detail;
}

TEST(PolkitPresenceTest, ARefusalIsADenialSayingWhy) {
  auto failed = presence_outcome_of(false, false, false, "3");
  EXPECT_EQ(failed.result, PresenceResult::kDenied);
  EXPECT_EQ(failed.detail, "authentication failed");
  EXPECT_EQ(presence_outcome_of(false, false, true, "3").detail, "the user dismissed the prompt");
}

TEST(PolkitPresenceTest, ErrorsSayWhichPartIsMissing) {
  auto no_polkitd = presence_outcome_of_error("org.freedesktop.DBus.Error.ServiceUnknown",
                                              "The name is not activatable");
  EXPECT_EQ(no_polkitd.result, PresenceResult::kUnavailable);
  EXPECT_NE(no_polkitd.detail.find("install polkitd"), std::string::npos);
  auto no_policy = presence_outcome_of_error("org.freedesktop.PolicyKit1.Error.Failed",
                                             "Action dev.liaison.presence is not registered");
  EXPECT_EQ(no_policy.result, PresenceResult::kUnavailable);
  EXPECT_NE(no_policy.detail.find("/usr/share/polkit-1/actions/dev.liaison.presence.policy"),
            std::string::npos);
  EXPECT_EQ(presence_outcome_of_error("org.freedesktop.DBus.Error.NoReply", "").result,
            PresenceResult::kTimeout);
  auto other = presence_outcome_of_error("org.example.Odd", std::string(5000, 'x'));
  EXPECT_EQ(other.result, PresenceResult::kUnavailable);
  EXPECT_LT(other.detail.size(), 500u) << "polkit's message is bounded";
}

}  // namespace
}  // namespace liaison::platform
