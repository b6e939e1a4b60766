#include "platform/linux/user_context_probe.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <cstdlib>
#include <optional>

namespace liaison::platform {
namespace {

using protocol::Finding;
using protocol::Json;
using ::testing::HasSubstr;

TEST(SetuidOnlyChildFinding, NoBusIsShownAsTheReasonAgentsExist) {
  Finding finding = setuid_only_child_finding(
      "alice", 1000,
      R"({"bus_error":"cannot connect to the session bus (neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set): No medium found"})");
  EXPECT_EQ(finding.check, "setuid-only-child");
  EXPECT_EQ(finding.status, Finding::Status::kInfo);
  EXPECT_THAT(finding.detail, HasSubstr("only setuid()s to alice (uid 1000)"));
  EXPECT_THAT(finding.detail, HasSubstr("No medium found"));
  EXPECT_THAT(finding.detail, HasSubstr("why liaison runs an agent"));
}

TEST(SetuidOnlyChildFinding, ABusWithoutAServerSaysWhatWasMissing) {
  Finding finding = setuid_only_child_finding(
      "bob", 1001, R"({"bus":"unix:path=/run/user/1001/bus","server_error":"no server"})");
  EXPECT_THAT(finding.detail, HasSubstr("reaches the bus at unix:path=/run/user/1001/bus but: "
                                        "no server"));
}

TEST(SetuidOnlyChildFinding, FullSuccessIsBlamedOnTheDaemonsEnvironment) {
  Finding finding =
      setuid_only_child_finding("bob", 1001, R"({"bus":"unix:path=/x","server":"dunst"})");
  EXPECT_THAT(finding.detail, HasSubstr("notification server dunst"));
  EXPECT_THAT(finding.detail, HasSubstr("daemon's own environment"));
}

TEST(SetuidOnlyChildFinding, GarbageIsShownNotTrusted) {
  Finding finding = setuid_only_child_finding("bob", 1001, "{not json");
  EXPECT_EQ(finding.status, Finding::Status::kInfo);
  EXPECT_THAT(finding.detail, HasSubstr("reported nothing readable"));
}

// Runs the probe's real setuid-only child for `uid` to its end.
std::optional<Finding> check_setuid_only_child_of(uid_t uid) {
  LinuxUserContextProbe probe;
  asio::io_context io;
  std::optional<Finding> finding;
  asio::co_spawn(io, probe.check_setuid_only_child(uid),
                 [&](const std::exception_ptr&, Finding found) { finding = std::move(found); });
  io.run();
  return finding;
}

// A real child: as root, drop to nobody with the session-bus variables unset, as a daemon under
// systemd has them, and see sd-bus refuse.
TEST(LinuxUserContextProbe, ASetuidOnlyChildHasNoSessionBus) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to setuid()";
  }
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
  ::unsetenv("XDG_RUNTIME_DIR");
  std::optional<Finding> finding = check_setuid_only_child_of(nobody->pw_uid);
  ASSERT_TRUE(finding.has_value());
  const Finding& found = *finding;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_EQ(found.status, Finding::Status::kInfo);
  EXPECT_THAT(found.detail, HasSubstr("only setuid()s to nobody"));
  EXPECT_THAT(found.detail, HasSubstr("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR"));
  EXPECT_THAT(found.facts.value("bus_error", ""), HasSubstr("No medium found"));
}

void count_sigterm(int) {}

// Issue 11, attack 5: the child keeps the user's uid as its real uid, so the user may signal it;
// with the daemon's SIGTERM handler (asio's) and fds it would stop the daemon or read its files.
TEST(LinuxUserContextProbe, TheSetuidOnlyChildKeepsNoHandlerAndNoFdOfTheDaemon) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to setuid()";
  }
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  struct sigaction handler {};
  handler.sa_handler = count_sigterm;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGTERM, &handler, &previous), 0);
  const int root_fd = ::open("/proc/self/status", O_RDONLY);  // inheritable, as a leak would be
  ASSERT_GE(root_fd, 0);
  std::optional<Finding> finding = check_setuid_only_child_of(nobody->pw_uid);
  ::close(root_fd);
  ::sigaction(SIGTERM, &previous, nullptr);
  ASSERT_TRUE(finding.has_value());
  const Json inherited = finding->facts.value("child_inherited", Json());  // NOLINT: ASSERT above
  ASSERT_TRUE(inherited.is_object()) << finding->facts.dump();             // NOLINT
  EXPECT_EQ(inherited.value("signal_handlers", -1), 0);
  EXPECT_LE(inherited.value("fds", -1), 1) << "only the /proc/self/fd iterator's own fd";
}

TEST(LinuxUserContextProbe, AUserWithoutAManagerFailsWithAFix) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to reach user managers";
  }
  // A uid nobody is logged in as: no /run/user/<uid>/systemd/private.
  LinuxUserContextProbe probe;
  Finding finding = probe.check_user_manager(54321, "asuser");
  EXPECT_TRUE(finding.failed());
  EXPECT_EQ(finding.check, "user-manager");
  EXPECT_THAT(finding.detail, HasSubstr("user@54321.service cannot be reached"));
  EXPECT_THAT(finding.hint, HasSubstr("systemctl status user@54321.service"));
}

}  // namespace
}  // namespace liaison::platform
