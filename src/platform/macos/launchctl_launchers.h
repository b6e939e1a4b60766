// Apple only. The asuser and launch-agent strategies on macOS (DESIGN.md, Launch strategies):
//   asuser        `launchctl asuser <uid> sudo -u #<uid> <agent>`: one unmanaged process in the
//                 user's bootstrap namespace; the daemon's child, so it reaps it.
//   launch-agent  the plist in /Library/LaunchAgents, loaded with `bootstrap gui/<uid>`, stopped
//                 with `bootout`; launchd restarts it on failure and starts it at each login.
// Both serve one user (AgentScope::kUser): a GUI login is per user on macOS.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "daemon/agent_launcher.h"
#include "platform/macos/launchctl.h"

namespace liaison::platform::macos {

class MacAsUserLauncher final : public daemon::AgentLauncher {
 public:
  // `agent_command`: {"/Applications/Liaison.app/Contents/MacOS/liaison", "agent"}.
  MacAsUserLauncher(std::vector<std::string> agent_command,
                    std::string launchctl_path = std::string(kLaunchctlPath));

  std::string strategy() const override { return "asuser"; }
  daemon::AgentScope scope() const override { return daemon::AgentScope::kUser; }
  // Unit "asuser": DarwinProcessInspector reports it for processes descending from a launch.
  std::optional<daemon::UnitIdentity> unit_identity() const override;
  std::expected<daemon::LaunchedAgent, std::string> launch(const daemon::Session& session,
                                                           const std::string& token) override;

  // "asuser" when `pid` descends from a process this launcher started (launchctl, then sudo,
  // then the agent), else empty.
  std::string unit_of(pid_t pid) const;

 private:
  std::vector<std::string> agent_command_;
  std::string launchctl_path_;
  mutable std::mutex mutex_;
  std::set<pid_t> launched_;
};

class MacLaunchAgentLauncher final : public daemon::AgentLauncher {
 public:
  MacLaunchAgentLauncher(CommandRunner& runner,
                         std::string launchctl_path = std::string(kLaunchctlPath));

  std::string strategy() const override { return "launch-agent"; }
  daemon::AgentScope scope() const override { return daemon::AgentScope::kUser; }
  // Unit dev.liaison.agent running the app bundle's executable.
  std::optional<daemon::UnitIdentity> unit_identity() const override;
  // kAgentLabel when launchd says `pid` is our job's process in gui/<uid>, else empty.
  std::string unit_of(pid_t pid, uid_t uid);
  std::string why_no_agent_for(const daemon::Session& session) const override;
  std::expected<daemon::LaunchedAgent, std::string> launch(const daemon::Session& session,
                                                           const std::string& token) override;
  // SIGTERM boots the job out (a signal would count as a crash and KeepAlive would restart it);
  // other signals go through `launchctl kill`.
  void send_signal(const daemon::LaunchedAgent& agent, int signal) override;
  // Not our child: it only says the process is gone.
  std::optional<int> reap(const daemon::LaunchedAgent& agent) override;

 private:
  Launchctl launchctl_;
};

// A kqueue fd that turns readable when `pid` exits (EVFILT_PROC NOTE_EXIT): macOS's pidfd.
std::expected<UniqueFd, std::string> process_exit_fd(pid_t pid);

}  // namespace liaison::platform::macos
