#include "platform/linux/process_inspector.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "platform/linux/user_manager.h"

namespace liaison::platform {
namespace {

TEST(ProcessInspectorTest, StartTimeIsField22EvenWithParenthesesInTheName) {
  const std::string stat =
      "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 "
      "18446744073709551615";
  EXPECT_EQ(start_time_from_stat(stat), 987654u);
  EXPECT_EQ(start_time_from_stat("garbage"), std::nullopt);
  EXPECT_EQ(start_time_from_stat("1 (x) S 1 2"), std::nullopt);
}

TEST(ProcessInspectorTest, RealUidComesFromTheUidLine) {
  EXPECT_EQ(real_uid_from_status("Name:\tx\nUid:\t1001\t0\t0\t0\nGid:\t1\n"), 1001u);
  EXPECT_EQ(real_uid_from_status("Name:\tx\n"), std::nullopt);
}

TEST(ProcessInspectorTest, DescribesThisProcessAndWatchesAChildUntilItExits) {
  LinuxProcessInspector inspector;
  auto self = inspector.facts_of(::getpid());
  ASSERT_TRUE(self.has_value()) << self.error();
  EXPECT_EQ(self->uid, ::getuid());
  EXPECT_GT(self->start_time, 0u);
  EXPECT_FALSE(self->executable.empty());
  EXPECT_FALSE(self->in_user_manager) << "a test binary runs in no user's service manager";

  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  auto watch = inspector.watch(child);
  ASSERT_TRUE(watch.has_value()) << watch.error();
  pollfd before{watch->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&before, 1, 0), 0) << "readable only once it exits";
  inspector.signal(*watch, SIGTERM);
  pollfd after{watch->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&after, 1, 5000), 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  EXPECT_FALSE(inspector.facts_of(child).has_value());
}

TEST(UserManagerNamesTest, EachStrategyHasItsUnitAndExecNone) {
  EXPECT_EQ(agent_unit_of("asuser"), "liaison-agent-asuser.service");
  EXPECT_EQ(agent_unit_of("launch-agent"), "liaison-agent.service");
  EXPECT_EQ(agent_unit_of("exec"), "");
  EXPECT_EQ(machine_of(1001), "1001@.host");
  EXPECT_EQ(UserManager::socket_path_of(1001), "/run/user/1001/systemd/private");
}

TEST(UserManagerNamesTest, NoManagerListeningIsAClearError) {
  auto manager =
      UserManager::connect_at("/nonexistent/private", 1001, std::chrono::milliseconds(100));
  ASSERT_FALSE(manager.has_value());
  EXPECT_NE(manager.error().find("not running"), std::string::npos) << manager.error();
}

}  // namespace
}  // namespace liaison::platform
