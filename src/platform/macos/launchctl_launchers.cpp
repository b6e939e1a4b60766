// Apple only, not compiled on the Linux build host: see docs/macos.md "verified here".
#include "platform/macos/launchctl_launchers.h"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/event.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/macos/darwin_process_inspector.h"
#include "platform/macos/launchd_plist.h"

extern char** environ;

namespace liaison::platform::macos {
namespace {

std::string errno_text(const char* what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

std::expected<daemon::LaunchedAgent, std::string> launched(pid_t pid, uid_t uid) {
  auto exit_fd = process_exit_fd(pid);
  if (!exit_fd) return std::unexpected(exit_fd.error());
  return daemon::LaunchedAgent{.pid = pid, .uid = uid, .exit_fd = std::move(*exit_fd)};
}

}  // namespace

std::expected<UniqueFd, std::string> process_exit_fd(pid_t pid) {
  UniqueFd queue(kqueue());
  if (!queue) return std::unexpected(errno_text("kqueue"));
  struct kevent change;
  EV_SET(&change, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, nullptr);
  if (kevent(queue.get(), &change, 1, nullptr, 0, nullptr) != 0) {
    return std::unexpected(errno_text("kevent(EVFILT_PROC)"));
  }
  return queue;
}

MacAsUserLauncher::MacAsUserLauncher(std::vector<std::string> agent_command,
                                     std::string launchctl_path)
    : agent_command_(std::move(agent_command)), launchctl_path_(std::move(launchctl_path)) {}

std::optional<daemon::UnitIdentity> MacAsUserLauncher::unit_identity() const {
  return daemon::UnitIdentity{.unit = "asuser", .executable = agent_command_.front()};
}

std::string MacAsUserLauncher::unit_of(pid_t pid) const {
  // launchctl asuser and sudo stay the agent's ancestors while it runs (sudo waits for its
  // command; whether launchctl execs or waits is not verified, and either way it is an
  // ancestor). A few levels are enough; pid 1 (launchd) ends the walk.
  std::lock_guard lock(mutex_);
  for (int depth = 0; depth < 8 && pid > 1; ++depth) {
    if (launched_.contains(pid)) return "asuser";
    pid = parent_of(pid);
  }
  return {};
}

std::expected<daemon::LaunchedAgent, std::string> MacAsUserLauncher::launch(
    const daemon::Session& session, const std::string& /*token*/) {
  // asuser moves into the user's bootstrap namespace and audit session but keeps uid and
  // environment: sudo drops to the user, -H gives the user's HOME.
  std::vector<std::string> as_user{"/usr/bin/sudo", "-u", fmt::format("#{}", session.uid), "-H",
                                   "--"};
  as_user.insert(as_user.end(), agent_command_.begin(), agent_command_.end());
  std::vector<std::string> argv{launchctl_path_};
  for (auto& argument : asuser_arguments(session.uid, as_user)) argv.push_back(argument);

  std::vector<char*> raw_argv;
  for (auto& argument : argv) raw_argv.push_back(argument.data());
  raw_argv.push_back(nullptr);
  pid_t pid = 0;
  if (const int error =
          posix_spawn(&pid, argv.front().c_str(), nullptr, nullptr, raw_argv.data(), environ);
      error != 0) {
    return std::unexpected(fmt::format("launchctl asuser: {}", std::strerror(error)));
  }
  {
    std::lock_guard lock(mutex_);
    // Forget launches that ended (kill 0 fails with ESRCH) so the set stays small.
    std::erase_if(launched_, [](pid_t old) { return kill(old, 0) != 0 && errno == ESRCH; });
    launched_.insert(pid);
  }
  return launched(pid, session.uid);
}

MacLaunchAgentLauncher::MacLaunchAgentLauncher(CommandRunner& runner, std::string launchctl_path)
    : launchctl_(runner, std::move(launchctl_path)) {}

std::optional<daemon::UnitIdentity> MacLaunchAgentLauncher::unit_identity() const {
  return daemon::UnitIdentity{.unit = std::string(kAgentLabel),
                              .executable = std::string(kAgentExecutable)};
}

std::string MacLaunchAgentLauncher::unit_of(pid_t pid, uid_t uid) {
  auto state = launchctl_.print(uid, kAgentLabel);
  if (state && *state && (*state)->pid == pid) return std::string(kAgentLabel);
  return {};
}

std::string MacLaunchAgentLauncher::why_no_agent_for(const daemon::Session& /*session*/) const {
  if (access(launch_agent_plist_path().c_str(), F_OK) != 0) {
    return "the LaunchAgent is not installed (liaison launch-agent install)";
  }
  return {};
}

std::expected<daemon::LaunchedAgent, std::string> MacLaunchAgentLauncher::launch(
    const daemon::Session& session, const std::string& /*token*/) {
  auto state = launchctl_.print(session.uid, kAgentLabel);
  if (!state) return std::unexpected(state.error().message);
  if (!*state) {
    auto outcome = launchctl_.bootstrap(session.uid, launch_agent_plist_path());
    if (!outcome) return std::unexpected(outcome.error());
    if (*outcome != LaunchctlOutcome::kDone && *outcome != LaunchctlOutcome::kAlreadyLoaded) {
      return std::unexpected(fmt::format("launchctl bootstrap: {}", outcome_name(*outcome)));
    }
  }
  if (!*state || !(*state)->pid) {
    // RunAtLoad does not always fire for a job bootstrapped into a running session.
    auto started = launchctl_.kickstart_restart(session.uid, kAgentLabel);
    if (!started) return std::unexpected(started.error());
    state = launchctl_.print(session.uid, kAgentLabel);
    if (!state) return std::unexpected(state.error().message);
  }
  if (!*state || !(*state)->pid) {
    return std::unexpected(std::string("the LaunchAgent is loaded but not running yet"));
  }
  return launched(*(*state)->pid, session.uid);
}

void MacLaunchAgentLauncher::send_signal(const daemon::LaunchedAgent& agent, int signal) {
  if (signal == SIGTERM) {
    (void)launchctl_.bootout(agent.uid, kAgentLabel);
    return;
  }
  (void)launchctl_.run({"kill", std::to_string(signal), gui_service(agent.uid, kAgentLabel)});
}

std::optional<int> MacLaunchAgentLauncher::reap(const daemon::LaunchedAgent& /*agent*/) {
  return 0;
}

}  // namespace liaison::platform::macos
