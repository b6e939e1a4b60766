#include "platform/macos/launchd_launch_agent.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "platform/macos/macos_test_support.h"

namespace liaison::platform::macos {
namespace {

// A temporary /Library/LaunchAgents and the stand-in launchctl.
class LaunchdLaunchAgentTest : public testing::LaunchctlStandInTest {
 protected:
  void SetUp() override {
    LaunchctlStandInTest::SetUp();
    char path[] = "/tmp/liaison-launchagents-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    directory_ = path;
  }
  void TearDown() override {
    std::filesystem::remove_all(directory_);
    LaunchctlStandInTest::TearDown();
  }
  std::string plist_path() const { return directory_ + "/dev.liaison.agent.plist"; }

  std::string directory_;
  LaunchdLaunchAgent make() { return LaunchdLaunchAgent(launchctl_, directory_, std::nullopt); }
};

TEST_F(LaunchdLaunchAgentTest, InstallWritesTheShippedPlistOnce) {
  auto agent = make();
  EXPECT_FALSE(agent.installation()->all);
  auto change = agent.write({.all = true});
  ASSERT_TRUE(change.has_value()) << change.error();
  EXPECT_TRUE(change->files);
  EXPECT_FALSE(change->command);
  EXPECT_EQ(testing::read_file(plist_path()), launch_agent_plist(LaunchAgentSpec{}));
  struct stat status {};
  ASSERT_EQ(stat(plist_path().c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0644u);
  EXPECT_TRUE(agent.installation()->all);

  auto again = agent.write({.all = true});
  ASSERT_TRUE(again.has_value()) << again.error();
  EXPECT_FALSE(again->files);
}

TEST_F(LaunchdLaunchAgentTest, ChangedCommandIsReported) {
  auto agent = make();
  ASSERT_TRUE(agent.write({.all = true}).has_value());
  LaunchAgentSpec other;
  other.program_arguments = {"/Applications/Liaison.app/Contents/MacOS/liaison", "agent", "-v"};
  LaunchdLaunchAgent changed(launchctl_, directory_, std::nullopt, other);
  auto change = changed.write({.all = true});
  ASSERT_TRUE(change.has_value()) << change.error();
  EXPECT_TRUE(change->files);
  EXPECT_TRUE(change->command);
  EXPECT_EQ(changed.command(), "/Applications/Liaison.app/Contents/MacOS/liaison agent -v");
}

TEST_F(LaunchdLaunchAgentTest, UninstallRemovesThePlist) {
  auto agent = make();
  ASSERT_TRUE(agent.write({.all = true}).has_value());
  auto change = agent.write({});
  ASSERT_TRUE(change.has_value()) << change.error();
  EXPECT_TRUE(change->files);
  EXPECT_FALSE(std::filesystem::exists(plist_path()));
  EXPECT_FALSE(agent.write({})->files);
}

TEST_F(LaunchdLaunchAgentTest, PerUserInstallationIsRefused) {
  auto agent = make();
  auto change = agent.write({.users = {501}});
  ASSERT_FALSE(change.has_value());
  EXPECT_NE(change.error().find("--all"), std::string::npos);
}

TEST_F(LaunchdLaunchAgentTest, ReloadBootstrapsWhenInstalledAndBootsOutWhenNot) {
  auto agent = make();
  answer("", "launchctl_bootout_not_loaded.stderr", 3);
  EXPECT_TRUE(agent.reload(501).has_value());
  ASSERT_TRUE(agent.write({.all = true}).has_value());
  answer("", "launchctl_bootstrap_in_progress.stderr", 37);
  EXPECT_TRUE(agent.reload(501).has_value());
  EXPECT_EQ(recorded(),
            "bootout\tgui/501/dev.liaison.agent\n"
            "bootstrap\tgui/501\t" +
                plist_path() + "\n");
}

TEST_F(LaunchdLaunchAgentTest, ReloadReportsADisabledService) {
  auto agent = make();
  ASSERT_TRUE(agent.write({.all = true}).has_value());
  answer("", "launchctl_bootstrap_disabled.stderr", 119);
  auto reloaded = agent.reload(501);
  ASSERT_FALSE(reloaded.has_value());
  EXPECT_NE(reloaded.error().find("disabled"), std::string::npos) << reloaded.error();
}

TEST_F(LaunchdLaunchAgentTest, RestartOnlyWhatRuns) {
  auto agent = make();
  answer_for("print", "launchctl_print_running_10_10.txt", "", 0);
  EXPECT_TRUE(agent.restart_if_running(501).has_value());
  answer_for("print", "", "launchctl_print_not_found_reconstructed.stderr", 113);
  EXPECT_TRUE(agent.restart_if_running(502).has_value());
  answer_for("print", "", "launchctl_no_gui_domain.stderr", 113);
  EXPECT_TRUE(agent.restart_if_running(503).has_value());
  EXPECT_EQ(recorded(),
            "print\tgui/501/dev.liaison.agent\n"
            "kickstart\t-k\tgui/501/dev.liaison.agent\n"
            "print\tgui/502/dev.liaison.agent\n"
            "print\tgui/503/dev.liaison.agent\n");
}

TEST_F(LaunchdLaunchAgentTest, StopBootsOutAndToleratesNotLoaded) {
  auto agent = make();
  answer("", "launchctl_bootout_not_loaded.stderr", 3);
  EXPECT_TRUE(agent.stop(501).has_value());
  answer("", "launchctl_no_gui_domain.stderr", 113);
  EXPECT_TRUE(agent.stop(501).has_value());
}

TEST_F(LaunchdLaunchAgentTest, UnitStateFromPrint) {
  auto agent = make();
  answer_for("print", "launchctl_print_running_10_10.txt", "", 0);
  auto running = agent.unit_state(501);
  EXPECT_TRUE(running.manager_running);
  EXPECT_EQ(running.load_state, "loaded");
  EXPECT_EQ(running.active_state, "active");
  EXPECT_EQ(running.main_pid, 24784);

  answer_for("print", "", "launchctl_print_not_found_reconstructed.stderr", 113);
  auto missing = agent.unit_state(501);
  EXPECT_TRUE(missing.manager_running);
  EXPECT_EQ(missing.load_state, "not-found");

  answer_for("print", "", "launchctl_no_gui_domain.stderr", 113);
  auto logged_out = agent.unit_state(501);
  EXPECT_FALSE(logged_out.manager_running);
  EXPECT_TRUE(logged_out.error.empty());
}

TEST_F(LaunchdLaunchAgentTest, NamesThePlist) {
  EXPECT_EQ(make().unit_name(), plist_path());
  EXPECT_EQ(make().command(), "/Applications/Liaison.app/Contents/MacOS/liaison agent");
}

}  // namespace
}  // namespace liaison::platform::macos
