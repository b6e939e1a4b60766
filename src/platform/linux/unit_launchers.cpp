#include "platform/linux/unit_launchers.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <system_error>

#include "common/log.h"
#include "platform/linux/exec_launcher.h"
#include "platform/linux/user_manager.h"

namespace liaison::platform {
namespace {

// The running agent of `unit`: its main pid and a pidfd on it (the daemon's exit watch).
std::expected<daemon::LaunchedAgent, std::string> running_agent(UserManager& manager,
                                                                const std::string& unit,
                                                                uid_t uid) {
  auto status = manager.unit_status(unit);
  if (!status) {
    return std::unexpected(status.error());
  }
  if (!status->running() || status->main_pid <= 0) {
    return std::unexpected(fmt::format("{} is {} ({}): the agent exited at once", unit,
                                       status->active_state, status->sub_state));
  }
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, status->main_pid, 0)));
  if (!pidfd) {
    return std::unexpected(fmt::format("pidfd_open({}): {}", status->main_pid,
                                       std::generic_category().message(errno)));
  }
  return daemon::LaunchedAgent{.pid = status->main_pid, .uid = uid, .exit_fd = std::move(pidfd)};
}

// What is there from before (a previous daemon, the session's own start): a running agent is
// taken as it is; a failed one is cleared so it can start again.
std::expected<std::optional<daemon::LaunchedAgent>, std::string> existing_agent(
    UserManager& manager, const std::string& unit, uid_t uid) {
  auto status = manager.unit_status(unit);
  if (!status) {
    return std::unexpected(status.error());
  }
  if (status->running() && status->main_pid > 0) {
    auto running = running_agent(manager, unit, uid);
    if (!running) {
      return std::unexpected(running.error());
    }
    return std::optional(std::move(*running));
  }
  if (status->active_state == "deactivating") {
    return std::unexpected(fmt::format("the previous {} is still stopping", unit));
  }
  if (status->active_state == "failed") {
    (void)manager.reset_failed_unit(unit);
  }
  return std::optional<daemon::LaunchedAgent>();
}

// The agent of `unit` in the session user's own service manager: the one running already, or the
// one `start` starts there (a transient service for asuser, the installed unit for launch-agent).
std::expected<daemon::LaunchedAgent, std::string> launch_unit_agent(
    const daemon::Session& session, const std::string& unit,
    const std::function<std::expected<void, std::string>(UserManager&)>& start) {
  if (session.uid == 0) {
    return std::unexpected("refusing to start an agent as root");
  }
  auto manager = UserManager::connect(session.uid);
  if (!manager) {
    return std::unexpected(manager.error());
  }
  auto existing = existing_agent(*manager, unit, session.uid);
  if (!existing) {
    return std::unexpected(existing.error());
  }
  if (auto& running = *existing; running) {
    return std::move(*running);
  }
  if (auto started = start(*manager); !started) {
    return std::unexpected(started.error());
  }
  auto running = running_agent(*manager, unit, session.uid);
  if (running) {
    log::info(fmt::format("started {} for {} (uid {}), pid {}", unit, session.user, session.uid,
                          running->pid),
              {{"LIAISON_UID", std::to_string(session.uid)}});
  }
  return running;
}

// SIGTERM: a stop through the manager (which escalates to SIGKILL after the unit's stop
// timeout); SIGKILL: the unit's processes killed; anything else through the pidfd.
void signal_unit_agent(const std::string& unit, const daemon::LaunchedAgent& agent, int signal) {
  if (signal != SIGTERM && signal != SIGKILL) {
    if (agent.exit_fd) {
      ::syscall(SYS_pidfd_send_signal, agent.exit_fd.get(), signal, nullptr, 0);
    }
    return;
  }
  auto manager = UserManager::connect(agent.uid);
  std::expected<void, std::string> done =
      manager ? (signal == SIGTERM ? manager->stop_unit(unit) : manager->kill_unit(unit, SIGKILL))
              : std::unexpected(manager.error());
  if (!done && agent.exit_fd) {
    // The manager is gone or refuses: the pidfd still reaches the very process.
    ::syscall(SYS_pidfd_send_signal, agent.exit_fd.get(), signal, nullptr, 0);
  }
  if (!done) {
    log::warning(fmt::format("stopping {} of uid {}: {}", unit, agent.uid, done.error()));
  }
}

std::optional<int> reap_unit_agent(const daemon::LaunchedAgent& agent) {
  // Not our child: the pidfd only says it is gone; its manager collects the status.
  if (!agent.exit_fd) {
    return 0;
  }
  return platform::reap(agent.exit_fd);
}

}  // namespace

void retire_agent_units(uid_t uid, std::string_view kept) {
  if (::access(UserManager::socket_path_of(uid).c_str(), F_OK) != 0) {
    return;
  }
  auto manager = UserManager::connect(uid);
  if (!manager) {
    return;
  }
  for (std::string_view strategy : {"asuser", "launch-agent"}) {
    if (strategy == kept) {
      continue;
    }
    const std::string unit = agent_unit_of(strategy);
    auto status = manager->unit_status(unit);
    if (!status || !status->running()) {
      continue;
    }
    log::info(fmt::format("stopping {} of uid {}: [agent] launch is \"{}\" now", unit, uid, kept),
              {{"LIAISON_UID", std::to_string(uid)}, {"LIAISON_EVENT", "agent-retired"}});
    if (auto stopped = manager->stop_unit(unit); !stopped) {
      log::warning(stopped.error());
    }
  }
}

// ---- asuser ----------------------------------------------------------------------------------

AsUserLauncher::AsUserLauncher(std::vector<std::string> agent_command,
                               std::string agent_socket_path)
    : agent_command_(std::move(agent_command)), agent_socket_path_(std::move(agent_socket_path)) {}

std::optional<daemon::UnitIdentity> AsUserLauncher::unit_identity() const {
  return daemon::UnitIdentity{kAsUserAgentUnit, agent_command_.front()};
}

std::expected<daemon::LaunchedAgent, std::string> AsUserLauncher::launch(
    const daemon::Session& session, const std::string& /*token*/) {
  const TransientService service{
      .name = kAsUserAgentUnit,
      .description = "liaison desktop agent ([agent] launch = asuser)",
      .command = agent_command_,
      .environment = {"LIAISON_AGENT_SOCKET=" + agent_socket_path_},
  };
  return launch_unit_agent(session, kAsUserAgentUnit, [&service](UserManager& manager) {
    return manager.start_transient_service(service);
  });
}

void AsUserLauncher::send_signal(const daemon::LaunchedAgent& agent, int signal) {
  signal_unit_agent(kAsUserAgentUnit, agent, signal);
}

std::optional<int> AsUserLauncher::reap(const daemon::LaunchedAgent& agent) {
  return reap_unit_agent(agent);
}

void AsUserLauncher::retire_other_strategies(uid_t uid) { retire_agent_units(uid, strategy()); }

// ---- launch-agent ----------------------------------------------------------------------------

LaunchAgentLauncher::LaunchAgentLauncher(std::string agent_executable,
                                         const daemon::LaunchAgentInstaller& installer)
    : agent_executable_(std::move(agent_executable)), installer_(installer) {}

std::optional<daemon::UnitIdentity> LaunchAgentLauncher::unit_identity() const {
  return daemon::UnitIdentity{kLaunchAgentUnit, agent_executable_};
}

std::string LaunchAgentLauncher::why_no_agent_for(const daemon::Session& session) const {
  auto installation = installer_.installation();
  if (!installation) {
    return fmt::format("cannot read the launch-agent installation: {}", installation.error());
  }
  if (installation->installed_for(session.uid)) {
    return {};
  }
  return fmt::format(
      "launch-agent is not installed for {} (liaison launch-agent install --user {})", session.user,
      session.user);
}

std::expected<daemon::LaunchedAgent, std::string> LaunchAgentLauncher::launch(
    const daemon::Session& session, const std::string& /*token*/) {
  // The session's graphical-session.target usually started it already; where it did not (the
  // daemon came later, the agent gave up, the desktop has no such target) start it here.
  return launch_unit_agent(session, kLaunchAgentUnit, [](UserManager& manager) {
    return manager.start_unit(kLaunchAgentUnit);
  });
}

void LaunchAgentLauncher::send_signal(const daemon::LaunchedAgent& agent, int signal) {
  signal_unit_agent(kLaunchAgentUnit, agent, signal);
}

std::optional<int> LaunchAgentLauncher::reap(const daemon::LaunchedAgent& agent) {
  return reap_unit_agent(agent);
}

void LaunchAgentLauncher::retire_other_strategies(uid_t uid) {
  retire_agent_units(uid, strategy());
}

}  // namespace liaison::platform
