#include "platform/macos/launchctl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "platform/macos/macos_test_support.h"

namespace liaison::platform::macos {
namespace {

using testing::fixture_path;
using testing::read_file;
using testing::read_fixture;

CommandResult failed(int exit_code, const std::string& stderr_fixture) {
  return CommandResult{.exit_code = exit_code, .standard_error = read_fixture(stderr_fixture)};
}

TEST(LaunchctlArguments, TargetsTheUsersGuiDomain) {
  EXPECT_EQ(bootstrap_arguments(501, "/Library/LaunchAgents/dev.liaison.agent.plist"),
            (std::vector<std::string>{"bootstrap", "gui/501",
                                      "/Library/LaunchAgents/dev.liaison.agent.plist"}));
  EXPECT_EQ(bootout_arguments(501, "dev.liaison.agent"),
            (std::vector<std::string>{"bootout", "gui/501/dev.liaison.agent"}));
  EXPECT_EQ(kickstart_restart_arguments(502, "dev.liaison.agent"),
            (std::vector<std::string>{"kickstart", "-k", "gui/502/dev.liaison.agent"}));
  EXPECT_EQ(print_arguments(501, "dev.liaison.agent"),
            (std::vector<std::string>{"print", "gui/501/dev.liaison.agent"}));
  EXPECT_EQ(asuser_arguments(501, {"/usr/bin/sudo", "-u", "#501", "liaison", "agent"}),
            (std::vector<std::string>{"asuser", "501", "/usr/bin/sudo", "-u", "#501", "liaison",
                                      "agent"}));
}

TEST(LaunchctlResults, BootstrapOutcomesFromRealOutput) {
  EXPECT_EQ(interpret_bootstrap(CommandResult{}), LaunchctlOutcome::kDone);
  EXPECT_EQ(interpret_bootstrap(failed(37, "launchctl_bootstrap_in_progress.stderr")),
            LaunchctlOutcome::kAlreadyLoaded);
  EXPECT_EQ(interpret_bootstrap(failed(5, "launchctl_bootstrap_eio.stderr")),
            LaunchctlOutcome::kRetryLater);
  EXPECT_EQ(interpret_bootstrap(failed(119, "launchctl_bootstrap_disabled.stderr")),
            LaunchctlOutcome::kDisabled);
  EXPECT_EQ(interpret_bootstrap(failed(125, "launchctl_bootstrap_no_domain_support.stderr")),
            LaunchctlOutcome::kNoGuiDomain);
  EXPECT_EQ(interpret_bootstrap(failed(1, "launchctl_bad_ownership.stderr")),
            LaunchctlOutcome::kFailed);
}

TEST(LaunchctlResults, ErrorNumberComesFromTheTextWhenPresent) {
  // The number launchctl prints wins over an exit code that disagrees with it.
  EXPECT_EQ(launchctl_error_number(failed(1, "launchctl_bootstrap_in_progress.stderr")), 37);
  EXPECT_EQ(launchctl_error_number(failed(1, "launchctl_bootout_not_loaded.stderr")), 3);
  EXPECT_EQ(launchctl_error_number(failed(113, "launchctl_print_not_found_reconstructed.stderr")),
            113);
}

TEST(LaunchctlResults, BootoutOfSomethingNotLoadedIsNotAFailure) {
  EXPECT_EQ(interpret_bootout(failed(3, "launchctl_bootout_not_loaded.stderr")),
            LaunchctlOutcome::kNotLoaded);
  EXPECT_EQ(interpret_bootout(failed(113, "launchctl_print_not_found_reconstructed.stderr")),
            LaunchctlOutcome::kNotLoaded);
  EXPECT_EQ(interpret_bootout(failed(113, "launchctl_no_gui_domain.stderr")),
            LaunchctlOutcome::kNoGuiDomain);
}

TEST(LaunchctlResults, DescriptionsSayWhatToDo) {
  const auto eio = failed(5, "launchctl_bootstrap_eio.stderr");
  const auto text = describe(interpret_bootstrap(eio), eio);
  EXPECT_NE(text.find("retry"), std::string::npos) << text;
  EXPECT_NE(text.find("Bootstrap failed: 5: Input/output error"), std::string::npos) << text;
  const auto disabled = failed(119, "launchctl_bootstrap_disabled.stderr");
  EXPECT_NE(describe(interpret_bootstrap(disabled), disabled).find("launchctl enable"),
            std::string::npos);
}

TEST(LaunchctlPrint, ParsesTheRunningServiceSample) {
  auto state = parse_launchctl_print(read_fixture("launchctl_print_running_10_10.txt"));
  ASSERT_TRUE(state.has_value()) << state.error();
  EXPECT_EQ(*state, (LaunchdServiceState{
                        .state = "running",
                        .pid = 24784,
                        .last_exit_code = 1,
                        .runs = 2,
                        .path = "/Library/LaunchDaemons/dev.mysql.plist",
                        .program = "/opt/boxen/homebrew/bin/mysqld_safe",
                    }));
  EXPECT_TRUE(state->running());
}

TEST(LaunchctlPrint, RegisteredButNeverRan) {
  // Modern layout as described in the notes (fixture-only upstream): tab indents, no pid.
  const std::string text =
      "gui/501/dev.liaison.agent = {\n"
      "\tactive count = 0\n"
      "\tpath = /Library/LaunchAgents/dev.liaison.agent.plist\n"
      "\ttype = LaunchAgent\n"
      "\tstate = not running\n"
      "\n"
      "\tprogram = /Applications/Liaison.app/Contents/MacOS/liaison\n"
      "\targuments = {\n"
      "\t\t/Applications/Liaison.app/Contents/MacOS/liaison\n"
      "\t\tagent\n"
      "\t}\n"
      "\tdomain = gui/501 [100016]\n"
      "\truns = 0\n"
      "\tlast exit code = (never exited)\n"
      "}\n";
  auto state = parse_launchctl_print(text);
  ASSERT_TRUE(state.has_value()) << state.error();
  EXPECT_EQ(state->state, "not running");
  EXPECT_FALSE(state->pid);
  EXPECT_FALSE(state->last_exit_code);
  EXPECT_EQ(state->runs, 0);
  EXPECT_FALSE(state->running());
}

TEST(LaunchctlPrint, OutputWithoutStateIsAnError) {
  EXPECT_FALSE(parse_launchctl_print("").has_value());
  EXPECT_FALSE(parse_launchctl_print(read_fixture("launchctl_no_gui_domain.stderr")).has_value());
}

using LaunchctlStandIn = testing::LaunchctlStandInTest;

TEST_F(LaunchctlStandIn, BootstrapAlreadyLoaded) {
  answer("", "launchctl_bootstrap_in_progress.stderr", 37);
  auto outcome = launchctl_.bootstrap(501, "/Library/LaunchAgents/dev.liaison.agent.plist");
  ASSERT_TRUE(outcome.has_value()) << outcome.error();
  EXPECT_EQ(*outcome, LaunchctlOutcome::kAlreadyLoaded);
  EXPECT_EQ(recorded(), "bootstrap\tgui/501\t/Library/LaunchAgents/dev.liaison.agent.plist\n");
}

TEST_F(LaunchctlStandIn, BootoutNotLoadedThenKickstart) {
  answer("", "launchctl_bootout_not_loaded.stderr", 3);
  EXPECT_EQ(launchctl_.bootout(502, "dev.liaison.agent"), LaunchctlOutcome::kNotLoaded);
  answer("", "", 0);
  EXPECT_EQ(launchctl_.kickstart_restart(502, "dev.liaison.agent"), LaunchctlOutcome::kDone);
  EXPECT_EQ(recorded(),
            "bootout\tgui/502/dev.liaison.agent\n"
            "kickstart\t-k\tgui/502/dev.liaison.agent\n");
}

TEST_F(LaunchctlStandIn, PrintRunningService) {
  answer("launchctl_print_running_10_10.txt", "", 0);
  auto state = launchctl_.print(501, "dev.liaison.agent");
  ASSERT_TRUE(state.has_value()) << state.error().message;
  const std::optional<LaunchdServiceState>& service = *state;
  ASSERT_TRUE(service.has_value());
  const LaunchdServiceState& running =
      *service;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_EQ(running.pid, 24784);
  EXPECT_EQ(recorded(), "print\tgui/501/dev.liaison.agent\n");
}

TEST_F(LaunchctlStandIn, PrintNotFoundIsNotLoaded) {
  answer("", "launchctl_print_not_found_reconstructed.stderr", 113);
  auto state = launchctl_.print(501, "dev.liaison.agent");
  ASSERT_TRUE(state.has_value()) << state.error().message;
  EXPECT_FALSE(state->has_value());
}

TEST_F(LaunchctlStandIn, PrintWithoutGuiDomainIsAnError) {
  answer("", "launchctl_no_gui_domain.stderr", 113);
  auto state = launchctl_.print(501, "dev.liaison.agent");
  ASSERT_FALSE(state.has_value());
  EXPECT_EQ(state.error().outcome, LaunchctlOutcome::kNoGuiDomain);
  EXPECT_NE(state.error().message.find("no GUI login"), std::string::npos) << state.error().message;
}

TEST(SpawnCommandRunner, ReportsAProgramThatCannotRun) {
  SpawnCommandRunner runner;
  // glibc and macOS report the failed exec from posix_spawn; others run the child, which exits 127.
  const auto result = runner.run({"/nonexistent/launchctl"});
  EXPECT_TRUE(!result.has_value() || result->exit_code == 127);
  EXPECT_FALSE(runner.run({}).has_value());
}

TEST(SpawnCommandRunner, CollectsLargeOutputOnBothStreams) {
  SpawnCommandRunner runner;
  auto result = runner.run({"/bin/sh", "-c",
                            "head -c 200000 /dev/zero | tr '\\0' o; "
                            "head -c 150000 /dev/zero | tr '\\0' e >&2; exit 7"});
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->exit_code, 7);
  EXPECT_EQ(result->standard_output.size(), 200000u);
  EXPECT_EQ(result->standard_error.size(), 150000u);
}

}  // namespace
}  // namespace liaison::platform::macos
