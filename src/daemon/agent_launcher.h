// Starts a desktop agent inside a user's session context. One implementation per launch strategy
// and platform (exec, asuser, launch-agent); the daemon does not know how the process is made.
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>

#include "common/unique_fd.h"
#include "daemon/session.h"

namespace liaison::daemon {

struct LaunchedAgent {
  pid_t pid = 0;
  // A pidfd: readable once the process has exited, reaped through waitid(P_PIDFD). Invalid where
  // the strategy does not make the process itself (asuser, launch-agent).
  UniqueFd exit_fd;
};

class AgentLauncher {
 public:
  virtual ~AgentLauncher() = default;

  // The strategy's name as it appears in `liaison sessions` ("exec", "asuser", "launch-agent").
  virtual std::string strategy() const = 0;

  // Starts the agent for `session`. `token` is the one-time secret the agent must present in
  // agent.hello; the launcher hands it over without putting it in argv, the environment or a log.
  // Takes a fork and an exec (a few milliseconds); never waits for the agent to be ready.
  virtual std::expected<LaunchedAgent, std::string> launch(const Session& session,
                                                           const std::string& token) = 0;

  // Sends `signal` to a launched agent. The default is kill(2) on the pid; launchers holding a
  // pidfd override it so a recycled pid is never hit.
  virtual void send_signal(const LaunchedAgent& agent, int signal);

  // Collects the agent's exit once exit_fd turned readable: its wait status, or nullopt while it
  // still runs. The default is waitpid(2) with WNOHANG.
  virtual std::optional<int> reap(const LaunchedAgent& agent);
};

}  // namespace liaison::daemon
