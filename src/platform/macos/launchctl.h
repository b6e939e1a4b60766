// launchctl, the only supported way to reach a user's launchd domain from a root daemon: the
// argument lists, what its exit codes mean in practice (macos-facts.md §3), and a parser for the
// `print` output, which launchctl's man page says is not API, so the parser reads only a few
// fields and tolerates anything else.
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/macos/command_runner.h"

namespace liaison::platform::macos {

inline constexpr std::string_view kLaunchctlPath = "/bin/launchctl";

std::string gui_domain(uid_t uid);                           // gui/501
std::string gui_service(uid_t uid, std::string_view label);  // gui/501/dev.liaison.agent

// Argument lists without the program path.
std::vector<std::string> bootstrap_arguments(uid_t uid, std::string_view plist_path);
std::vector<std::string> bootout_arguments(uid_t uid, std::string_view label);
std::vector<std::string> kickstart_restart_arguments(uid_t uid, std::string_view label);
std::vector<std::string> print_arguments(uid_t uid, std::string_view label);
std::vector<std::string> print_domain_arguments(uid_t uid);  // print gui/501: the domain itself
// `asuser <uid> <command...>`: one unmanaged process in the user's bootstrap namespace and audit
// session. It changes neither uid nor environment: the command must drop privileges itself.
std::vector<std::string> asuser_arguments(uid_t uid, const std::vector<std::string>& command);

enum class LaunchctlOutcome {
  kDone,
  kAlreadyLoaded,  // bootstrap 37: loaded or still starting
  kNotLoaded,      // bootout 3, print/bootout 113: nothing to do
  kRetryLater,     // bootstrap 5: usually the previous instance is still draining after bootout
  kDisabled,       // 119: a persistent `launchctl disable` override
  kNoGuiDomain,    // 125, or "Could not find domain": the user has no GUI login now
  kFailed,
};

std::string_view outcome_name(LaunchctlOutcome outcome);

// The error number launchctl reports: the N of "Bootstrap failed: N: ..." when the text has one,
// else the exit code.
int launchctl_error_number(const CommandResult& result);

LaunchctlOutcome interpret_bootstrap(const CommandResult& result);
LaunchctlOutcome interpret_bootout(const CommandResult& result);
LaunchctlOutcome interpret_kickstart(const CommandResult& result);
LaunchctlOutcome interpret_print(const CommandResult& result);
// kDone when the domain exists; kNoGuiDomain when the user has no GUI login (also for 113 and
// 112, which a missing domain gives too).
LaunchctlOutcome interpret_print_domain(const CommandResult& result);

// A sentence for an operator: what happened and what to do, with launchctl's own words.
std::string describe(LaunchctlOutcome outcome, const CommandResult& result);

// The few fields of `launchctl print <service>` we use.
struct LaunchdServiceState {
  std::string state;  // running, not running, waiting, spawn scheduled
  std::optional<pid_t> pid;
  std::optional<int> last_exit_code;  // nullopt for "(never exited)"
  std::optional<int> runs;
  std::string path;
  std::string program;
  bool running() const { return state == "running"; }
  friend bool operator==(const LaunchdServiceState&, const LaunchdServiceState&) = default;
};

std::expected<LaunchdServiceState, std::string> parse_launchctl_print(std::string_view text);

// Why `print` gave no state: the outcome (kNoGuiDomain when the user has no GUI login) and a
// sentence for the log.
struct LaunchctlError {
  LaunchctlOutcome outcome = LaunchctlOutcome::kFailed;
  std::string message;
};

// Runs launchctl through a CommandRunner; the path is configurable so tests use a stand-in.
class Launchctl {
 public:
  explicit Launchctl(CommandRunner& runner, std::string path = std::string(kLaunchctlPath))
      : runner_(runner), path_(std::move(path)) {}

  std::expected<CommandResult, std::string> run(const std::vector<std::string>& arguments);

  std::expected<LaunchctlOutcome, std::string> bootstrap(uid_t uid, std::string_view plist_path);
  std::expected<LaunchctlOutcome, std::string> bootout(uid_t uid, std::string_view label);
  std::expected<LaunchctlOutcome, std::string> kickstart_restart(uid_t uid, std::string_view label);
  // nullopt when the service is not loaded in that domain.
  std::expected<std::optional<LaunchdServiceState>, LaunchctlError> print(uid_t uid,
                                                                          std::string_view label);
  // Whether gui/<uid> exists, and launchctl's words for the log.
  std::expected<std::pair<LaunchctlOutcome, std::string>, std::string> print_domain(uid_t uid);

 private:
  CommandRunner& runner_;
  std::string path_;
};

}  // namespace liaison::platform::macos
