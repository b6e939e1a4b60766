// The `exec` strategy on macOS: the daemon forks the agent and only drops it to the user
// (spawn + setuid). Kept as the broken baseline the design note started from, to diagnose with:
// the agent runs as the user but in the system bootstrap namespace, so notifications fail with
// NSXPCConnectionInvalid (4099) and the Secure Enclave with -34018 / -25308 (docs/macos.md).
// Portable: Linux tests launch a stand-in agent through it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/agent_launcher.h"

namespace liaison::platform::macos {

// A handle that turns readable when `pid` exits: a kqueue (process_exit_fd) on macOS; the tests'
// testing::watch_process_exit (a pidfd on Linux).
using ExitWatcher = std::function<std::expected<UniqueFd, std::string>(pid_t pid)>;

class SetuidExecLauncher final : public daemon::AgentLauncher {
 public:
  // `agent_command[0]` is the absolute path run; `agent_socket_path` reaches the agent as
  // LIAISON_AGENT_SOCKET, its session as LIAISON_SESSION, the token on fd 3 (LIAISON_TOKEN_FD).
  SetuidExecLauncher(std::vector<std::string> agent_command, std::string agent_socket_path,
                     ExitWatcher exit_watcher);

  std::string strategy() const override { return "exec"; }
  std::expected<daemon::LaunchedAgent, std::string> launch(const daemon::Session& session,
                                                           const std::string& token) override;

 private:
  std::vector<std::string> agent_command_;
  std::string agent_socket_path_;
  ExitWatcher exit_watcher_;
};

// HOME, USER, LOGNAME, SHELL from the user database, launchd's default PATH, and the agent's
// LIAISON_* variables: nothing of the daemon's environment.
std::vector<std::string> setuid_agent_environment(const std::string& user, const std::string& home,
                                                  const std::string& shell,
                                                  const std::string& session_id,
                                                  const std::string& agent_socket_path);

}  // namespace liaison::platform::macos
