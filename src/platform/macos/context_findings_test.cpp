// What `liaison doctor` reports on macOS, from the values the Apple-only code collects; and the
// daemon-side probe run against the launchctl stand-in (its setuid-only child really drops to
// user nobody when the test runs as root).
#include "platform/macos/context_findings.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "platform/macos/macos_test_support.h"
#include "platform/macos/user_context_probe.h"

namespace liaison::platform::macos {
namespace {

using protocol::Finding;
using Status = Finding::Status;

NotificationContext in_bundle(std::optional<long> status) {
  return {.executable_path = "/Applications/Liaison.app/Contents/MacOS/liaison",
          .bundle_identifier = "dev.liaison.agent",
          .bundle_path = "/Applications/Liaison.app",
          .authorization_status = status};
}

TEST(NotificationsFinding, MapsEachAuthorizationStatus) {
  auto authorized = notifications_finding(in_bundle(2));
  EXPECT_EQ(authorized.check, "notifications");
  EXPECT_EQ(authorized.status, Status::kOk);
  EXPECT_EQ(authorized.facts["authorization"], "authorized");

  auto provisional = notifications_finding(in_bundle(3));
  EXPECT_EQ(provisional.status, Status::kOk);
  EXPECT_EQ(provisional.facts["authorization"], "provisional");

  auto denied = notifications_finding(in_bundle(1));
  EXPECT_EQ(denied.status, Status::kFail);
  EXPECT_EQ(denied.hint, "System Settings → Notifications → Liaison → Allow Notifications");
  EXPECT_EQ(denied.facts["authorization"], "denied");

  auto undecided = notifications_finding(in_bundle(0));
  EXPECT_EQ(undecided.status, Status::kWarn);
  EXPECT_FALSE(undecided.hint.empty());

  auto unknown = notifications_finding(in_bundle(42));
  EXPECT_EQ(unknown.status, Status::kWarn);
  EXPECT_NE(unknown.detail.find("42"), std::string::npos);

  auto silent = notifications_finding(in_bundle(std::nullopt));
  EXPECT_EQ(silent.status, Status::kWarn);
}

TEST(NotificationsFinding, OutsideAnAppBundleIsAFailureNamingTheExecutable) {
  auto finding = notifications_finding({.executable_path = "/usr/local/bin/liaison"});
  EXPECT_EQ(finding.status, Status::kFail);
  EXPECT_NE(finding.detail.find("/usr/local/bin/liaison"), std::string::npos) << finding.detail;
  EXPECT_NE(finding.hint.find("/Applications/Liaison.app/Contents/MacOS/liaison"),
            std::string::npos)
      << finding.hint;
  EXPECT_EQ(finding.facts["bundle_identifier"], "");
}

TEST(SetuidOnlyChildFinding, SaysWhichLaunchdSessionTheChildIsIn) {
  auto system = setuid_only_child_finding(
      501,
      CommandResult{.exit_code = 0,
                    .standard_output = testing::read_fixture("launchctl_managername_system.txt")});
  EXPECT_EQ(system.check, "setuid-only-child");
  EXPECT_EQ(system.status, Status::kInfo);
  EXPECT_EQ(system.facts["managername"], "System");
  EXPECT_NE(system.detail.find("\"System\", not the user's \"Aqua\""), std::string::npos)
      << system.detail;

  auto aqua = setuid_only_child_finding(
      501,
      CommandResult{.standard_output = testing::read_fixture("launchctl_managername_aqua.txt")});
  EXPECT_EQ(aqua.status, Status::kInfo);
  EXPECT_NE(aqua.detail.find("inherited a GUI login"), std::string::npos) << aqua.detail;

  auto failed = setuid_only_child_finding(501, CommandResult{.exit_code = 1});
  EXPECT_EQ(failed.status, Status::kInfo);
  EXPECT_NE(failed.detail.find("exit 1"), std::string::npos);

  auto not_run = setuid_only_child_finding(
      501, std::expected<CommandResult, std::string>(std::unexpected("no user with uid 501")));
  EXPECT_EQ(not_run.status, Status::kInfo);
  EXPECT_NE(not_run.detail.find("no user with uid 501"), std::string::npos);
}

// The probe against the launchctl stand-in.
class UserContextProbeTest : public testing::LaunchctlStandInTest {
 protected:
  Finding setuid_only_child(uid_t uid) {
    asio::io_context io;
    std::optional<Finding> finding;
    asio::co_spawn(io, probe_.check_setuid_only_child(uid),
                   [&](const std::exception_ptr& error, Finding result) {
                     ASSERT_FALSE(error);
                     finding = std::move(result);
                   });
    io.run();
    return finding.value_or(Finding{});
  }

  MacUserContextProbe probe_{launchctl_, testing::test_script("launchctl_standin.sh")};
};

TEST_F(UserContextProbeTest, GuiDomainPresentForAsUser) {
  answer("", "", 0);
  auto finding = probe_.check_user_manager(501, "asuser");
  EXPECT_EQ(finding.check, "user-manager");
  EXPECT_EQ(finding.status, Status::kOk) << finding.detail;
  EXPECT_EQ(recorded(), "print\tgui/501\n");
}

TEST_F(UserContextProbeTest, NoGuiDomainIsAFailure) {
  answer("", "launchctl_no_gui_domain.stderr", 113);
  auto finding = probe_.check_user_manager(501, "launch-agent");
  EXPECT_EQ(finding.status, Status::kFail);
  EXPECT_NE(finding.detail.find("Could not find domain for user gui: 501"), std::string::npos)
      << finding.detail;
  EXPECT_FALSE(finding.facts["domain_exists"].get<bool>());
  EXPECT_EQ(recorded(), "print\tgui/501\n");  // no job lookup without a domain

  answer("", "launchctl_bootstrap_no_domain_support.stderr", 125);
  EXPECT_EQ(probe_.check_user_manager(501, "asuser").status, Status::kFail);
}

TEST_F(UserContextProbeTest, LaunchAgentJobRunningNotLoadedOrStopped) {
  answer("", "", 0);
  answer_for("print", "launchctl_print_running_10_10.txt", "", 0);
  auto running = probe_.check_user_manager(501, "launch-agent");
  EXPECT_EQ(running.status, Status::kOk) << running.detail;
  EXPECT_EQ(running.facts["pid"], 24784);
  EXPECT_EQ(recorded(), "print\tgui/501\nprint\tgui/501/dev.liaison.agent\n");

  const std::expected<std::optional<LaunchdServiceState>, LaunchctlError> not_loaded{std::nullopt};
  auto not_loaded_finding =
      user_manager_finding(501, "launch-agent", LaunchctlOutcome::kDone, "done", &not_loaded);
  EXPECT_EQ(not_loaded_finding.status, Status::kFail);
  EXPECT_NE(not_loaded_finding.hint.find("liaison launch-agent install"), std::string::npos);

  const std::expected<std::optional<LaunchdServiceState>, LaunchctlError> stopped{
      LaunchdServiceState{.state = "not running", .last_exit_code = 78}};
  auto stopped_finding =
      user_manager_finding(501, "launch-agent", LaunchctlOutcome::kDone, "done", &stopped);
  EXPECT_EQ(stopped_finding.status, Status::kWarn);
  EXPECT_NE(stopped_finding.detail.find("last exit code 78"), std::string::npos);
  EXPECT_NE(stopped_finding.hint.find("kickstart -k gui/501/dev.liaison.agent"), std::string::npos);
}

TEST_F(UserContextProbeTest, ExecIsAWarningToSwitchStrategy) {
  answer("", "", 0);
  auto finding = probe_.check_user_manager(501, "exec");
  EXPECT_EQ(finding.status, Status::kWarn);
  EXPECT_NE(finding.hint.find("launch-agent"), std::string::npos);
}

TEST_F(UserContextProbeTest, SetuidOnlyChildRunsManagernameAsTheUser) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "dropping to another user needs root";
  }
  const passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) {
    GTEST_SKIP() << "no user nobody";
  }
  chmod(argv_log_.c_str(), 0666);  // the stand-in appends to it as nobody
  answer_for("managername", "launchctl_managername_background.txt", "", 0);
  auto finding = setuid_only_child(nobody->pw_uid);
  EXPECT_EQ(finding.check, "setuid-only-child");
  EXPECT_EQ(finding.status, Status::kInfo);
  EXPECT_EQ(finding.facts["managername"], "Background") << finding.detail;
  EXPECT_EQ(recorded(), "managername\n");
}

TEST_F(UserContextProbeTest, SetuidOnlyChildForAnUnknownUser) {
  auto finding = setuid_only_child(4000000000u);
  EXPECT_EQ(finding.status, Status::kInfo);
  EXPECT_NE(finding.detail.find("no passwd entry for uid 4000000000"), std::string::npos)
      << finding.detail;
}

}  // namespace
}  // namespace liaison::platform::macos
