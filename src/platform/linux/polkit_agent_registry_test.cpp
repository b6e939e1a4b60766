#include "platform/linux/polkit_agent_registry.h"

#include <gtest/gtest.h>

namespace liaison::platform {
namespace {

// polkitd 122's lines, as measured in the e2e container.
constexpr std::string_view kRegistered =
    "Registered Authentication Agent for unix-session:9725 (system bus name :1.6 [python3 "
    "/usr/local/lib/liaison-test/polkit_agent.py --user alice --session 9725], object path "
    "/dev/liaison/test/AuthenticationAgent, locale C.UTF-8)";
constexpr std::string_view kUnregistered =
    "Unregistered Authentication Agent for unix-session:9725 (system bus name :1.6, object path "
    "/dev/liaison/test/AuthenticationAgent, locale C.UTF-8) (disconnected from bus)";

TEST(AgentRegistrationTest, ARegistrationNamesTheBusNameAndTheProgram) {
  auto registration = parse_agent_registration(kRegistered, "9725");
  ASSERT_TRUE(registration.has_value());
  EXPECT_TRUE(registration->registered);
  EXPECT_EQ(registration->bus_name, ":1.6");
  EXPECT_EQ(registration->program,
            "python3 /usr/local/lib/liaison-test/polkit_agent.py --user alice --session 9725");
}

TEST(AgentRegistrationTest, AnUnregistrationSaysSo) {
  auto registration = parse_agent_registration(kUnregistered, "9725");
  ASSERT_TRUE(registration.has_value());
  EXPECT_FALSE(registration->registered);
  EXPECT_EQ(registration->bus_name, ":1.6");
}

TEST(AgentRegistrationTest, OnlyLinesOfThatSessionCount) {
  EXPECT_FALSE(parse_agent_registration(kRegistered, "972").has_value());
  EXPECT_FALSE(parse_agent_registration(kRegistered, "97250").has_value());
  EXPECT_FALSE(parse_agent_registration("Loading rules from directory /etc", "9725").has_value());
}

TEST(AgentRegistrationTest, TheProgramIsBounded) {
  const std::string line =
      "Registered Authentication Agent for unix-session:4 (system bus name "
      ":1.9 [" +
      std::string(5000, 'x') + "], object path /a, locale C)";
  auto registration = parse_agent_registration(line, "4");
  ASSERT_TRUE(registration.has_value());
  EXPECT_LT(registration->program.size(), 200u);
}

}  // namespace
}  // namespace liaison::platform
