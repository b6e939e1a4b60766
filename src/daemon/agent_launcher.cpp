#include "daemon/agent_launcher.h"

#include <signal.h>
#include <sys/wait.h>

namespace liaison::daemon {

void AgentLauncher::send_signal(const LaunchedAgent& agent, int signal) {
  if (agent.pid > 0) {
    ::kill(agent.pid, signal);
  }
}

std::optional<int> AgentLauncher::reap(const LaunchedAgent& agent) {
  int status = 0;
  pid_t reaped = ::waitpid(agent.pid, &status, WNOHANG);
  if (reaped == agent.pid) {
    return status;
  }
  if (reaped < 0) {
    return 0;  // not our child (any more): nothing left to wait for
  }
  return std::nullopt;
}

}  // namespace liaison::daemon
