// The launch strategies whose agent runs as a unit of each user's own service manager, so its
// environment and cgroup are the user's (DESIGN.md, Launch strategies):
//   asuser        a transient unit, `systemd-run --user --machine=<uid>@.host --collect` made
//                 through the manager's D-Bus API; the daemon starts, watches and stops it.
//   launch-agent  the installed user unit liaison-agent.service, started by the user's graphical
//                 session where it is installed (`liaison launch-agent install`); the daemon
//                 starts it where it is missing and stops it through the manager.
// One agent serves all of a user's sessions: the manager is per user and in no session.
#pragma once

#include <string>
#include <vector>

#include "daemon/agent_launcher.h"
#include "daemon/launch_agent_installer.h"

namespace liaison::platform {

class AsUserLauncher final : public daemon::AgentLauncher {
 public:
  // `agent_command` is the agent's argv ({"/usr/bin/liaison", "agent"}); its first element is
  // also the executable a hello must come from.
  AsUserLauncher(std::vector<std::string> agent_command, std::string agent_socket_path);

  std::string strategy() const override { return "asuser"; }
  bool may_block() const override { return true; }  // every call goes to the user's manager
  daemon::AgentScope scope() const override { return daemon::AgentScope::kUser; }
  std::optional<daemon::UnitIdentity> unit_identity() const override;
  std::expected<daemon::LaunchedAgent, std::string> launch(const daemon::Session& session,
                                                           const std::string& token) override;
  void send_signal(const daemon::LaunchedAgent& agent, int signal) override;
  std::optional<int> reap(const daemon::LaunchedAgent& agent) override;
  void retire_other_strategies(uid_t uid) override;

 private:
  std::vector<std::string> agent_command_;
  std::string agent_socket_path_;
};

class LaunchAgentLauncher final : public daemon::AgentLauncher {
 public:
  LaunchAgentLauncher(std::string agent_executable, const daemon::LaunchAgentInstaller& installer);

  std::string strategy() const override { return "launch-agent"; }
  bool may_block() const override { return true; }  // every call goes to the user's manager
  daemon::AgentScope scope() const override { return daemon::AgentScope::kUser; }
  std::optional<daemon::UnitIdentity> unit_identity() const override;
  std::string why_no_agent_for(const daemon::Session& session) const override;
  std::expected<daemon::LaunchedAgent, std::string> launch(const daemon::Session& session,
                                                           const std::string& token) override;
  void send_signal(const daemon::LaunchedAgent& agent, int signal) override;
  std::optional<int> reap(const daemon::LaunchedAgent& agent) override;
  void retire_other_strategies(uid_t uid) override;

 private:
  std::string agent_executable_;
  const daemon::LaunchAgentInstaller& installer_;
};

// Stops, in the manager of `uid`, the agent units of every strategy but `kept` ("exec" keeps
// none). Says so in the log for each one it stops; a manager that is not running is fine.
void retire_agent_units(uid_t uid, std::string_view kept);

}  // namespace liaison::platform
