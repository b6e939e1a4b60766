#include "platform/macos/peer_token.h"

#include <gtest/gtest.h>

namespace liaison::platform::macos {
namespace {

TEST(PeerToken, TeamIdentifierFormat) {
  EXPECT_TRUE(is_valid_team_identifier("ABCDE12345"));
  EXPECT_TRUE(is_valid_team_identifier("0123456789"));
  EXPECT_FALSE(is_valid_team_identifier("ABCDEFG"));      // Chromium's test value: too short
  EXPECT_FALSE(is_valid_team_identifier("abcde12345"));   // lower case
  EXPECT_FALSE(is_valid_team_identifier("ABCDE1234\""));  // would end the quoted string
  EXPECT_FALSE(is_valid_team_identifier("ABCDE123456"));
  EXPECT_FALSE(is_valid_team_identifier(""));
}

TEST(PeerToken, RequirementForTheTeam) {
  EXPECT_EQ(team_code_requirement("ABCDE12345").value(),
            "anchor apple generic and certificate leaf[subject.OU] = \"ABCDE12345\"");
}

TEST(PeerToken, RequirementPinningOneIdentifier) {
  EXPECT_EQ(team_code_requirement("ABCDE12345", "dev.liaison.agent").value(),
            "anchor apple generic and certificate leaf[subject.OU] = \"ABCDE12345\" and "
            "identifier \"dev.liaison.agent\"");
}

TEST(PeerToken, RejectsWhatCouldInjectIntoTheRequirement) {
  EXPECT_FALSE(team_code_requirement("ABCDE\" or ").has_value());
  EXPECT_FALSE(team_code_requirement("ABCDE12345", "x\" or anchor apple").has_value());
  EXPECT_FALSE(team_code_requirement("ABCDE12345", "a b").has_value());
  const auto error = team_code_requirement("nope");
  ASSERT_FALSE(error.has_value());
  EXPECT_NE(error.error().find("team identifier"), std::string::npos);
}

}  // namespace
}  // namespace liaison::platform::macos
