// Starts a desktop agent inside a user's session context. One implementation per launch strategy
// and platform (exec, asuser, launch-agent); the daemon does not know how the process is made.
#pragma once

#include <sys/types.h>

#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "common/unique_fd.h"
#include "daemon/session.h"

namespace liaison::daemon {

// Whom one agent serves: one session (exec), or every session of one user, because the agent
// runs in the user's own service manager, which is per user and belongs to no session (asuser
// and launch-agent on Linux).
enum class AgentScope { kSession, kUser };

struct LaunchedAgent {
  pid_t pid = 0;
  uid_t uid = 0;
  // Readable once the process has exited (a pidfd on Linux). For the daemon's own children it
  // also reaps them (waitid(P_PIDFD)); for others (an agent in a user's service manager, or one
  // adopted from a previous daemon) it only tells that they are gone.
  UniqueFd exit_fd;
  // Why the process never became the agent, asked once it has exited: the step before execve
  // that failed ("setresuid(1001): Operation not permitted"), or empty when it reached execve.
  // Null where the launcher cannot tell. Never blocks: launch() does not wait for the child to
  // exec, because a child that is already the user may hang in the user's home (a FUSE mount
  // that never answers) and nothing a user does may stall the daemon.
  std::function<std::string()> start_failure;
};

// How an agent that presents no token proves it is this strategy's agent: the kernel says it
// runs as the user, the user's own service manager runs it under `unit`, and it runs
// `executable`, the installed binary.
struct UnitIdentity {
  std::string unit;
  std::string executable;
};

class AgentLauncher {
 public:
  virtual ~AgentLauncher() = default;

  // The strategy's name as it appears in `liaison sessions` ("exec", "asuser", "launch-agent").
  virtual std::string strategy() const = 0;

  virtual AgentScope scope() const { return AgentScope::kSession; }

  // Whether launch(), send_signal() and retire_other_strategies() may wait on something the
  // user controls (their own service manager, reached over a socket in their runtime dir): the
  // supervisor then calls them off its loop (OffLoop), on a thread of their own, while the loop
  // reads nothing the launcher keeps. Each call still bounds itself.
  virtual bool may_block() const { return false; }

  // For user-scope strategies: how their agents are recognised (see UnitIdentity).
  virtual std::optional<UnitIdentity> unit_identity() const { return std::nullopt; }

  // Why this strategy runs no agent for `session`'s user right now (launch-agent not installed
  // for them), or empty. The session is listed with its agent `stopped` meanwhile.
  virtual std::string why_no_agent_for(const Session& /*session*/) const { return {}; }

  // Starts the agent for `session` (for user scope: for all sessions of its user). `token` is
  // the one-time secret the agent must present in agent.hello; the launcher hands it over
  // without putting it in argv, the environment or a log (user scope has no token: empty).
  // Never waits for the agent to be ready, nor (exec) for it to reach execve: a step that fails
  // after fork shows as its exit, explained by start_failure. Takes at most a few milliseconds
  // in the usual case.
  // A user-scope launcher that finds the agent already running returns that process.
  virtual std::expected<LaunchedAgent, std::string> launch(const Session& session,
                                                           const std::string& token) = 0;

  // Sends `signal` to a launched agent. The default is kill(2) on the pid; launchers holding a
  // pidfd override it so a recycled pid is never hit. User-scope launchers stop the agent
  // through the user's service manager on SIGTERM and kill its unit on SIGKILL.
  virtual void send_signal(const LaunchedAgent& agent, int signal);

  // Collects the agent's exit once exit_fd turned readable: its wait status, or nullopt while it
  // still runs. The default is waitpid(2) with WNOHANG; 0 when it is not (or no more) our child.
  virtual std::optional<int> reap(const LaunchedAgent& agent);

  // Stops what other strategies may have left running for `uid` (after [agent] launch changed):
  // their units in the user's service manager. Called once per user and daemon run.
  virtual void retire_other_strategies(uid_t /*uid*/) {}
};

}  // namespace liaison::daemon
