#include "platform/linux/process_inspector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "platform/linux/proc_text.h"
#include "platform/linux/user_manager.h"

namespace liaison::platform {
namespace {

using ::testing::ElementsAre;

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

TEST(ProcTextTest, RunsAsNeedsTheRealAndTheEffectiveUid) {
  EXPECT_TRUE(runs_as("Name:\tx\nUid:\t1001\t1001\t1001\t1001\n", 1001));
  EXPECT_FALSE(runs_as("Name:\tx\nUid:\t1001\t0\t0\t0\n", 1001));  // a set-uid program
  EXPECT_FALSE(runs_as("Name:\tx\nUid:\t1001", 1001));             // cut off: no effective uid
  // No terminating NUL after the view: the parser must stop at its end.
  std::string_view cut = std::string_view("Name:\tx\nUid:\t1001\t10019").substr(0, 22);
  EXPECT_TRUE(runs_as(cut, 1001));
}

TEST(ProcTextTest, EnvironEntriesAreSplitAtNulsAndACutOffLastOneIsDropped) {
  std::string environ("A=1\0\0B=2\0C=", 11);
  EXPECT_THAT(split_environ(environ, false), ElementsAre("A=1", "B=2", "C="));
  EXPECT_THAT(split_environ(environ, true), ElementsAre("A=1", "B=2"));
}

TEST(ProcTextTest, PidsAreWholeDecimalLinesOnly) {
  EXPECT_THAT(parse_pids("12\n0\n-3\n4x\n\n99"), ElementsAre(12, 99));
  // tests/fuzz/proc_fuzzer: a number past pid_t's range was truncated into a pid of -1.
  EXPECT_THAT(parse_pids("30100000000000000000000\n4237\n2147483648\n"), ElementsAre(4237));
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
