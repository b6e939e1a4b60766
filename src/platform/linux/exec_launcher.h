// The `exec` launch strategy on Linux: the daemon starts the agent itself through the portable
// spawn (platform/posix/user_spawn.h: dropped to the session's user, groups, gid and uid each
// checked, a new session id, umask 077, no inherited fd but the token's), gives it a clean
// environment rebuilt from the session, and keeps a pidfd to watch it.
#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "daemon/agent_launcher.h"
#include "daemon/session.h"

namespace liaison::platform {

// Builds the agent's environment (KEY=VALUE) for a session; agent_environment_for() in production,
// a fixed list in tests.
using EnvironmentProvider =
    std::function<std::expected<std::vector<std::string>, std::string>(const daemon::Session&)>;

// The agent's own stdout and stderr, made for each launch: under journald a stream of its own
// (sd_journal_stream_fd, identifier "liaison-agent"), so nothing an agent writes there is
// recorded as the daemon's own words. ExecLauncher names it in the agent's JOURNAL_STREAM.
using OutputProvider = std::function<std::expected<UniqueFd, std::string>(const daemon::Session&)>;

// The agent finds its one-time token by reading this fd to its end; LIAISON_TOKEN_FD names it.
inline constexpr int kAgentTokenFd = 3;

class ExecLauncher final : public daemon::AgentLauncher {
 public:
  // `agent_command` is the agent's argv; its first element is the absolute path executed
  // ({"/usr/bin/liaison", "agent"}). `agent_socket_path` reaches the agent as LIAISON_AGENT_SOCKET.
  // Without an `output_provider` the agent shares the daemon's stdout and stderr.
  ExecLauncher(std::vector<std::string> agent_command, std::string agent_socket_path,
               EnvironmentProvider environment_provider, OutputProvider output_provider = nullptr);

  std::string strategy() const override { return "exec"; }
  // The environment comes from the user's service manager (500 ms deadline), and retiring the
  // other strategies' units talks to it too.
  bool may_block() const override { return true; }

  // Everything that can fail is prepared before fork, and returned as an error. launch() then
  // returns at once, without waiting for the child to reach execve (it runs as the user by then,
  // and may hang in their home): a child that fails before execve exits with status 127 and its
  // LaunchedAgent::start_failure names the step and errno ("setresuid(1001): Operation not
  // permitted"). Refuses uid 0: an agent is always someone's unprivileged process.
  std::expected<daemon::LaunchedAgent, std::string> launch(const daemon::Session& session,
                                                           const std::string& token) override;

  // Through the pidfd, so a recycled pid is never signalled or reaped by mistake.
  void send_signal(const daemon::LaunchedAgent& agent, int signal) override;
  std::optional<int> reap(const daemon::LaunchedAgent& agent) override;

  // Stops the asuser and launch-agent units a previous [agent] launch left in the user's manager.
  void retire_other_strategies(uid_t uid) override;

 private:
  std::vector<std::string> agent_command_;
  std::string agent_socket_path_;
  EnvironmentProvider environment_provider_;
  OutputProvider output_provider_;
};

// Reaps the child behind `pidfd` (waitid(P_PIDFD)) if it has ended. Same contract as
// AgentLauncher::reap: its wait status as waitpid(2) would give it (WIFEXITED/WEXITSTATUS,
// WIFSIGNALED/WTERMSIG apply), nullopt while it still runs, 0 when there is nothing left to wait
// for (already reaped, not our child).
std::optional<int> reap(const UniqueFd& pidfd);

}  // namespace liaison::platform
