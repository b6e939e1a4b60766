#include "platform/macos/launchd_plist.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "platform/macos/command_runner.h"
#include "platform/macos/macos_test_support.h"

namespace liaison::platform::macos {
namespace {

using nlohmann::json;

// Parses `plist_text` with Python's plistlib: a parser that shares no code with the writer.
json parse_with_plistlib(const std::string& plist_text) {
  char path[] = "/tmp/liaison-plist-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, plist_text.data(), plist_text.size()),
            static_cast<ssize_t>(plist_text.size()));
  close(fd);
  SpawnCommandRunner runner;
  auto result = runner.run({"/usr/bin/python3", LIAISON_PLIST_TO_JSON, path});
  unlink(path);
  EXPECT_TRUE(result.has_value()) << result.error();
  if (!result) {
    return nullptr;
  }
  EXPECT_EQ(result->exit_code, 0) << result->standard_error;
  return json::parse(result->standard_output, nullptr, /*allow_exceptions=*/false);
}

TEST(LaunchdPlist, AgentPlistHasTheKeysLaunchdNeeds) {
  const auto parsed = parse_with_plistlib(launch_agent_plist(LaunchAgentSpec{}));
  const json expected = {
      {"Label", "dev.liaison.agent"},
      {"ProgramArguments", {"/Applications/Liaison.app/Contents/MacOS/liaison", "agent"}},
      {"RunAtLoad", true},
      {"KeepAlive", {{"SuccessfulExit", false}, {"Crashed", true}}},
      {"LimitLoadToSessionType", "Aqua"},
      {"ProcessType", "Interactive"},
      {"AssociatedBundleIdentifiers", {"dev.liaison.agent"}},
  };
  EXPECT_EQ(parsed, expected) << parsed.dump(2);
}

TEST(LaunchdPlist, DaemonPlistAlwaysRuns) {
  const auto parsed = parse_with_plistlib(launch_daemon_plist(LaunchDaemonSpec{}));
  const json expected = {
      {"Label", "dev.liaison.daemon"},
      {"ProgramArguments", {"/usr/local/bin/liaison", "daemon"}},
      {"RunAtLoad", true},
      {"KeepAlive", true},
      {"ProcessType", "Standard"},
  };
  EXPECT_EQ(parsed, expected) << parsed.dump(2);
}

TEST(LaunchdPlist, EscapesXmlSpecialCharacters) {
  LaunchAgentSpec spec;
  spec.label = "a&b<c>";
  spec.program_arguments = {"/path with space/x", "--name=\"quoted\" & 'single' <tag>"};
  const auto parsed = parse_with_plistlib(launch_agent_plist(spec));
  ASSERT_TRUE(parsed.is_object()) << parsed.dump();
  EXPECT_EQ(parsed["Label"], "a&b<c>");
  EXPECT_EQ(parsed["ProgramArguments"],
            json({"/path with space/x", "--name=\"quoted\" & 'single' <tag>"}));
}

TEST(LaunchdPlist, EscapeFunction) {
  EXPECT_EQ(xml_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  EXPECT_EQ(xml_escape("plain"), "plain");
}

TEST(LaunchdPlist, PathsAreLabelDotPlist) {
  EXPECT_EQ(launch_agent_plist_path(), "/Library/LaunchAgents/dev.liaison.agent.plist");
  EXPECT_EQ(launch_daemon_plist_path(), "/Library/LaunchDaemons/dev.liaison.daemon.plist");
}

TEST(LaunchdPlist, ShippedPlistsAreTheWritersOutput) {
  const std::string directory = LIAISON_PACKAGING_LAUNCHD;
  EXPECT_EQ(testing::read_file(directory + "/dev.liaison.agent.plist"),
            launch_agent_plist(LaunchAgentSpec{}))
      << "regenerate with: liaison-macos-plists (see packaging/launchd/README.md)";
  EXPECT_EQ(testing::read_file(directory + "/dev.liaison.daemon.plist"),
            launch_daemon_plist(LaunchDaemonSpec{}));
}

TEST(AppBundle, InfoPlistNamesTheAgentBundleAndHidesTheDockIcon) {
  const auto info =
      parse_with_plistlib(testing::read_file(std::string(LIAISON_PACKAGING_MACOS) + "/Info.plist"));
  ASSERT_TRUE(info.is_object()) << info.dump();
  EXPECT_EQ(info["CFBundleIdentifier"], std::string(kAgentBundleIdentifier));
  EXPECT_EQ(info["LSUIElement"], true);
  EXPECT_EQ(info["CFBundlePackageType"], "APPL");
  // The LaunchAgent must run the bundle's main executable (UserNotifications, entitlements).
  const std::string executable(kAgentExecutable);
  EXPECT_EQ(
      "/Applications/Liaison.app/Contents/MacOS/" + info["CFBundleExecutable"].get<std::string>(),
      executable);
}

TEST(AppBundle, EntitlementsTieTheAppIdentifierAndKeychainGroupToTheTeam) {
  const auto entitlements = parse_with_plistlib(
      testing::read_file(std::string(LIAISON_PACKAGING_MACOS) + "/liaison.entitlements"));
  ASSERT_TRUE(entitlements.is_object()) << entitlements.dump();
  EXPECT_EQ(entitlements["com.apple.developer.team-identifier"], "TEAMID");
  EXPECT_EQ(entitlements["com.apple.application-identifier"],
            "TEAMID." + std::string(kAgentBundleIdentifier));
  EXPECT_EQ(entitlements["keychain-access-groups"], json({"TEAMID.dev.liaison"}));
}

}  // namespace
}  // namespace liaison::platform::macos
