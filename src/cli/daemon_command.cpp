// `liaison daemon`: wires the Linux platform into the portable daemon and runs the event loop.
#include <fmt/format.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/key_providers.h"
#include "common/config.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "platform/linux/exec_launcher.h"
#include "platform/linux/logind_session_source.h"
#include "platform/linux/peer_credentials.h"
#include "platform/linux/process_inspector.h"
#include "platform/linux/restart_detection.h"
#include "platform/linux/session_environment.h"
#include "platform/linux/systemd_launch_agent.h"
#include "platform/linux/unit_launchers.h"
#include "platform/linux/user_context_probe.h"

namespace liaison::cli {
namespace {

std::expected<std::string, std::string> own_executable() {
  char path[PATH_MAX];
  ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) {
    return std::unexpected("cannot read /proc/self/exe");
  }
  return std::string(path, static_cast<std::size_t>(length));
}

int fail(const std::string& message) {
  log::error(message);
  return kExitFailed;
}

// An exec agent inherits the daemon's stderr: under systemd, the journal stream. Telling it so
// (JOURNAL_STREAM names that stream) lets it log structured entries, LIAISON_SESSION and all,
// so `journalctl -u liaison LIAISON_SESSION=N` shows the agent's side of a session too.
std::expected<std::vector<std::string>, std::string> agent_environment_with_journal(
    const daemon::Session& session) {
  auto environment = platform::agent_environment_for(session);
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (environment && stream != nullptr && *stream != '\0') {
    environment->push_back(fmt::format("JOURNAL_STREAM={}", stream));
  }
  return environment;
}

// The launcher of the configured strategy ([agent] launch).
std::unique_ptr<daemon::AgentLauncher> launcher_for(const std::string& strategy,
                                                    const std::string& executable,
                                                    const daemon::DaemonPaths& paths,
                                                    const daemon::LaunchAgentInstaller& installed) {
  std::vector<std::string> agent_command{executable, "agent"};
  if (strategy == "asuser") {
    return std::make_unique<platform::AsUserLauncher>(agent_command, paths.agent_socket());
  }
  if (strategy == "launch-agent") {
    return std::make_unique<platform::LaunchAgentLauncher>(executable, installed);
  }
  return std::make_unique<platform::ExecLauncher>(agent_command, paths.agent_socket(),
                                                  agent_environment_with_journal);
}

}  // namespace

int run_daemon(const DaemonFlags& flags) {
  const bool config_given = !flags.config_path.empty();
  auto config =
      load_config(config_given ? flags.config_path : std::string(kDefaultConfigPath), config_given);
  if (!config) {
    return fail(config.error());
  }
  log::Level level = log::Level::kInfo;
  if (!log::parse_level(flags.log_level.empty() ? config->log.level : flags.log_level, level)) {
    return fail(fmt::format("unknown log level \"{}\"", flags.log_level));
  }
  log::set_level(level);
  if (::geteuid() != 0) {
    return fail("the daemon must run as root: it starts agents as other users");
  }
  ::signal(SIGPIPE, SIG_IGN);

  daemon::DaemonPaths paths{runtime_dir_from(flags.runtime_dir), flags.state_dir};
  auto sessions = platform::LogindSessionSource::create();
  if (!sessions) {
    return fail(sessions.error());
  }
  auto executable = own_executable();
  if (!executable) {
    return fail(executable.error());
  }
  platform::SystemdLaunchAgent launch_agent({*executable, "agent"}, paths.agent_socket());
  auto launcher = launcher_for(config->agent.launch, *executable, paths, launch_agent);
  platform::LinuxPeerIdentity peers;
  platform::LinuxProcessInspector processes;
  platform::LinuxUserContextProbe user_context;

  asio::io_context io;
  KeyProviders key_providers(io, keys::KeyContext::kDaemon, config->keys.tpm_context == "daemon");
  daemon::Daemon daemon(
      io, *config, paths,
      {.sessions = **sessions,
       .launcher = *launcher,
       .peers = peers,
       .key_providers = [&key_providers, tcti = config->keys.tpm_tcti](
                            std::string_view name) { return key_providers.lookup(name, tcti); },
       // Linux: "auto" is the TPM, where [keys] tpm_context places it.
       .auto_keys = daemon::AutoKeyPlacement::tpm_per_config(*config),
       .notify_service_manager = [](const std::string& state) { sd_notify(0, state.c_str()); },
       .processes = &processes,
       .launch_agent = &launch_agent,
       .user_context = &user_context});
  if (auto started = daemon.start(); !started) {
    return fail(started.error());
  }

  // SIGTERM is a stop, unless systemd is restarting this unit: then the agents stay and the
  // next daemon re-adopts them (KillMode=process; docs/architecture.md). SIGINT always stops.
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code& error, int signal) {
    if (error) {
      return;
    }
    if (signal == SIGTERM && platform::own_unit_is_restarting()) {
      daemon.hand_over([&io] { io.stop(); });
    } else {
      daemon.stop([&io] { io.stop(); });
    }
  });
  io.run();
  log::info("daemon stopped", {{"LIAISON_EVENT", "daemon-stopped"}});
  return kExitOk;
}

}  // namespace liaison::cli
