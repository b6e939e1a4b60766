#include "platform/linux/systemd_launch_agent.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace liaison::platform {
namespace {

namespace fs = std::filesystem;
using daemon::LaunchAgentInstallation;

class SystemdLaunchAgentTest : public testing::Test {
 protected:
  SystemdLaunchAgentTest() {
    root_ = fs::temp_directory_path() /
            fmt::format("liaison-launch-agent-{}-{}", ::getpid(), counter_++);
    fs::create_directories(root_ / "lib/systemd/user");
    std::ofstream(root_ / "lib/systemd/user/liaison-agent.service") << "[Service]\nExecStart=x\n";
    paths_ = {.config_dir = (root_ / "etc/systemd/user").string(),
              .unit_dirs = {(root_ / "local/lib/systemd/user").string(),
                            (root_ / "lib/systemd/user").string()}};
  }
  ~SystemdLaunchAgentTest() override { fs::remove_all(root_); }

  SystemdLaunchAgent agent(std::string binary = "/usr/bin/liaison") {
    return SystemdLaunchAgent({std::move(binary), "agent"}, "/run/liaison/agent.sock", paths_);
  }
  std::string read(const fs::path& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), {});
  }

  static inline int counter_ = 0;
  fs::path root_;
  LaunchAgentPaths paths_;
};

TEST(SystemdLaunchAgentTextTest, TheDropInNamesTheUsersAndTheCommand) {
  const std::string text = render_drop_in({.users = {1001, 1002}}, {"/usr/bin/liaison", "agent"},
                                          "/run/liaison/agent.sock");
  EXPECT_NE(text.find("ConditionUser=|1001\nConditionUser=|1002\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ExecStart=\nExecStart=/usr/bin/liaison agent\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Environment=LIAISON_AGENT_SOCKET=/run/liaison/agent.sock\n"),
            std::string::npos);
  EXPECT_EQ(parse_drop_in(text), (LaunchAgentInstallation{.users = {1001, 1002}}));
  const std::string all = render_drop_in({.all = true}, {"/usr/bin/liaison", "agent"}, "/s");
  EXPECT_EQ(all.find("ConditionUser"), std::string::npos) << all;
  EXPECT_EQ(parse_drop_in(all), (LaunchAgentInstallation{.all = true}));
  EXPECT_EQ(parse_drop_in("[Service]\nExecStart=/bin/true\n"), std::nullopt);
}

TEST(SystemdLaunchAgentTextTest, WordsAreQuotedForUnitFiles) {
  EXPECT_EQ(quote_for_unit("/usr/bin/liaison"), "/usr/bin/liaison");
  EXPECT_EQ(quote_for_unit("/opt/my tools/liaison"), "\"/opt/my tools/liaison\"");
  EXPECT_EQ(quote_for_unit("100%"), "100%%");
  EXPECT_EQ(quote_for_unit("$HOME"), "$$HOME");
  EXPECT_EQ(quote_for_unit("a\"b"), "\"a\\\"b\"");
}

TEST_F(SystemdLaunchAgentTest, InstallWritesTheDropInAndTheEnablementAndIsIdempotent) {
  auto installer = agent();
  EXPECT_TRUE(installer.installation()->empty());
  auto first = installer.write({.users = {1001}});
  ASSERT_TRUE(first.has_value()) << first.error();
  EXPECT_TRUE(first->files);
  EXPECT_FALSE(first->command);
  EXPECT_EQ(fs::read_symlink(root_ / "etc/systemd/user" / kLaunchAgentWants),
            root_ / "lib/systemd/user/liaison-agent.service");
  EXPECT_EQ(installer.installation(), (LaunchAgentInstallation{.users = {1001}}));
  auto again = installer.write({.users = {1001}});
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->files);
  auto more = installer.write({.users = {1001, 1002}});
  ASSERT_TRUE(more.has_value());
  EXPECT_TRUE(more->files);
  EXPECT_FALSE(more->command) << "only the users changed";
}

TEST_F(SystemdLaunchAgentTest, ANewBinaryPathIsACommandChange) {
  ASSERT_TRUE(agent().write({.all = true}).has_value());
  auto moved = agent("/usr/local/bin/liaison").write({.all = true});
  ASSERT_TRUE(moved.has_value());
  EXPECT_TRUE(moved->files);
  EXPECT_TRUE(moved->command);
  EXPECT_NE(
      read(root_ / "etc/systemd/user" / kLaunchAgentDropIn).find("/usr/local/bin/liaison agent"),
      std::string::npos);
}

TEST_F(SystemdLaunchAgentTest, UninstallRemovesEverythingItWrote) {
  auto installer = agent();
  ASSERT_TRUE(installer.write({.all = true}).has_value());
  auto removed = installer.write({});
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(removed->files);
  EXPECT_TRUE(fs::is_empty(root_ / "etc/systemd/user"));
  EXPECT_FALSE(installer.write({})->files) << "nothing left to remove";
}

TEST_F(SystemdLaunchAgentTest, APlantedSymlinkIsNeverWrittenThrough) {
  fs::create_directories(root_ / "etc/systemd/user");
  fs::create_directories(root_ / "victim");
  fs::create_directory_symlink(root_ / "victim",
                               root_ / "etc/systemd/user/liaison-agent.service.d");
  auto written = agent().write({.all = true});
  EXPECT_FALSE(written.has_value());
  EXPECT_TRUE(fs::is_empty(root_ / "victim"));
  EXPECT_FALSE(agent().installation().has_value()) << "not read through it either";
}

TEST_F(SystemdLaunchAgentTest, WithoutThePackagedUnitInstallFails) {
  fs::remove(root_ / "lib/systemd/user/liaison-agent.service");
  auto written = agent().write({.all = true});
  ASSERT_FALSE(written.has_value());
  EXPECT_NE(written.error().find("make install"), std::string::npos) << written.error();
}

}  // namespace
}  // namespace liaison::platform
