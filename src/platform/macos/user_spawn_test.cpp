// The portable spawn_as_user (platform/posix) and the macOS exec strategy's SetuidExecLauncher,
// run for real: as root they start tests/macos/report_identity.sh as user nobody and read back
// what it found itself with.
#include "platform/posix/user_spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "daemon/session.h"
#include "platform/macos/macos_test_support.h"
#include "platform/macos/setuid_exec_launcher.h"

namespace liaison::platform::macos {
namespace {

// What report_identity.sh wrote: "key=value" lines, environment lines as "env:KEY=VALUE".
std::map<std::string, std::string> report(const std::string& path) {
  std::map<std::string, std::string> values;
  std::istringstream lines(testing::read_file(path));
  for (std::string line; std::getline(lines, line);) {
    const auto separator = line.find('=');
    if (separator != std::string::npos) {
      values[line.substr(0, separator)] = line.substr(separator + 1);
    }
  }
  return values;
}

class UserSpawnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "dropping to another user needs root";
    }
    const passwd* nobody = getpwnam("nobody");
    if (nobody == nullptr) {
      GTEST_SKIP() << "no user nobody";
    }
    nobody_ = nobody->pw_uid;
    char path[] = "/tmp/liaison-spawn-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    directory_ = path;
    chmod(path, 0777);  // the child writes its report here as nobody
    output_ = directory_ + "/report";
  }
  void TearDown() override {
    if (!directory_.empty()) {
      std::filesystem::remove_all(directory_);
    }
  }
  // The child's exit code once it has ended; -1 if a signal ended it. (Darwin's WEXITSTATUS
  // takes its argument's address, so it cannot wrap a call.)
  int exit_code_of(pid_t pid) {
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  uid_t nobody_ = 0;
  std::string directory_;
  std::string output_;
  // Run as nobody: from the copy every user may enter, not from the checkout.
  const std::string script_ = testing::test_script("report_identity.sh");
};

TEST_F(UserSpawnTest, DropsToTheUserAndKeepsTheCallersEnvironment) {
  auto ids = user_ids_for(nobody_);
  ASSERT_TRUE(ids.has_value()) << ids.error();
  setenv("LIAISON_SPAWN_TEST_MARK", "kept", 1);
  auto child = spawn_as_user({.user = *ids, .argv = {script_, output_}});
  unsetenv("LIAISON_SPAWN_TEST_MARK");
  ASSERT_TRUE(child.has_value()) << child.error();
  EXPECT_EQ(exit_code_of(child->pid()), 0);
  EXPECT_EQ(child->start_failure(), "");
  auto seen = report(output_);
  EXPECT_EQ(seen["uid"], std::to_string(nobody_));
  EXPECT_EQ(seen["gid"], std::to_string(ids->gid));
  EXPECT_EQ(seen["groups"].find("0 "), std::string::npos)
      << "root's group kept: " << seen["groups"];
  EXPECT_EQ(seen["env:LIAISON_SPAWN_TEST_MARK"], "kept");  // a naive setuid child's environment
  EXPECT_EQ(seen["fd3"], "<closed>");
  EXPECT_EQ(seen["sid_is_pid"], "no");
}

TEST_F(UserSpawnTest, ReportsTheStepThatFailed) {
  auto ids = user_ids_for(nobody_);
  ASSERT_TRUE(ids.has_value()) << ids.error();
  // A failed step is the child's exit (127), explained once it has exited: spawn_as_user never
  // waits for the child.
  auto missing = spawn_as_user({.user = *ids, .argv = {"/nonexistent/liaison", "agent"}});
  ASSERT_TRUE(missing.has_value()) << missing.error();
  EXPECT_EQ(exit_code_of(missing->pid()), 127);
  EXPECT_EQ(missing->start_failure(), "execve(/nonexistent/liaison): No such file or directory");

  UserIds root = *ids;
  root.uid = 0;
  auto refused = spawn_as_user({.user = root, .argv = {script_, output_}});
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().find("root"), std::string::npos) << refused.error();

  auto relative = spawn_as_user({.user = *ids, .argv = {"report_identity.sh"}});
  EXPECT_FALSE(relative.has_value());
}

TEST_F(UserSpawnTest, ExecLauncherGivesACleanEnvironmentTheTokenAndItsOwnSession) {
  SetuidExecLauncher launcher({script_, output_}, "/var/run/liaison/agent.sock",
                              testing::watch_process_exit);
  EXPECT_EQ(launcher.strategy(), "exec");
  // An fd the daemon holds must not reach the agent.
  UniqueFd daemon_secret(open("/dev/null", O_RDONLY));  // no O_CLOEXEC on purpose
  ASSERT_GE(dup2(daemon_secret.get(), 5), 0);
  setenv("LIAISON_SPAWN_TEST_MARK", "daemon-only", 1);
  daemon::Session session{.id = "257", .uid = nobody_, .user = "nobody"};
  auto agent = launcher.launch(session, "s3cret-token");
  unsetenv("LIAISON_SPAWN_TEST_MARK");
  close(5);
  ASSERT_TRUE(agent.has_value()) << agent.error();
  EXPECT_EQ(agent->uid, nobody_);
  EXPECT_TRUE(agent->exit_fd);
  EXPECT_EQ(exit_code_of(agent->pid), 0);

  auto seen = report(output_);
  EXPECT_EQ(seen["uid"], std::to_string(nobody_));
  EXPECT_EQ(seen["fd3"], "s3cret-token");
  EXPECT_EQ(seen["fd5"], "closed");
  EXPECT_EQ(seen["sid_is_pid"], "yes");
  EXPECT_EQ(seen["env:LIAISON_SESSION"], "257");
  EXPECT_EQ(seen["env:LIAISON_AGENT_SOCKET"], "/var/run/liaison/agent.sock");
  EXPECT_EQ(seen["env:LIAISON_TOKEN_FD"], "3");
  EXPECT_EQ(seen["env:USER"], "nobody");
  EXPECT_EQ(seen["env:PATH"], "/usr/bin:/bin:/usr/sbin:/sbin");
  EXPECT_EQ(seen.count("env:LIAISON_SPAWN_TEST_MARK"), 0u);
  // The token is in neither argv nor the environment.
  for (const auto& [key, value] : seen) {
    if (key != "fd3") {
      EXPECT_EQ(value.find("s3cret-token"), std::string::npos) << key;
    }
  }
}

}  // namespace
}  // namespace liaison::platform::macos
