// `liaison daemon`: wires the Linux platform into the portable daemon and runs the event loop.
#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/idle_flush_timer.h"
#include "cli/key_providers.h"
#include "cli/modules.h"
#include "common/config.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "platform/linux/exec_launcher.h"
#include "platform/linux/logind_session_source.h"
#include "platform/linux/peer_credentials.h"
#include "platform/linux/polkit_presence.h"
#include "platform/linux/process_inspector.h"
#include "platform/linux/restart_detection.h"
#include "platform/linux/session_environment.h"
#include "platform/linux/systemd_launch_agent.h"
#include "platform/linux/unit_launchers.h"
#include "platform/linux/user_context_probe.h"

namespace liaison::cli {
namespace {

int fail(const std::string& message) {
  log::error(message);
  return kExitFailed;
}

// An exec agent's stdout and stderr: where the daemon logs to the journal, a journal stream of
// the agent's own (identifier liaison-agent), never the daemon's, so nothing an agent writes
// there is recorded as the daemon's words (issue 11). The agent logs its structured entries,
// LIAISON_SESSION and all, natively (JOURNAL_STREAM tells it its stderr is the journal), so
// `journalctl -u liaison LIAISON_SESSION=N` still shows the agent's side of a session.
platform::OutputProvider agent_output() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr || *stream == '\0') {
    return nullptr;  // not under journald: the agent shares the daemon's stdout and stderr
  }
  return [](const daemon::Session&) -> std::expected<UniqueFd, std::string> {
    const int fd = sd_journal_stream_fd("liaison-agent", LOG_INFO, /*level_prefix=*/1);
    if (fd < 0) {
      return std::unexpected(
          fmt::format("sd_journal_stream_fd: {}", std::generic_category().message(-fd)));
    }
    return UniqueFd(fd);
  };
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
                                                  platform::agent_environment_for, agent_output());
}

}  // namespace

int run_daemon(const DaemonFlags& flags) {
  // One malloc arena for the whole daemon. Its threads are OffLoop's, one per launch or user-
  // manager call: rare, short, and never contending for malloc. glibc gives each thread an arena
  // of its own (up to 8 a CPU) that keeps what it touched: in a 200-user login storm that was
  // most of the daemon's growth, 94 KB a session; with one arena, 31 KB (make bench-storm).
  ::mallopt(M_ARENA_MAX, 1);
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
  platform::PolkitPresence presence(io, processes);
  KeyProviders key_providers(keys::KeyContext::kDaemon, config->keys.tpm_context == "daemon");
  IdleFlushTimer idle_flush(io, keys::tpm::TpmProvider::kIdleFlushAfter,
                            [&key_providers] { return key_providers.flush_idle(); });
  key_providers.on_tpm_used([&idle_flush] { idle_flush.arm(); });
  daemon::Daemon daemon(
      io, *config, paths,
      {.sessions = **sessions,
       .launcher = *launcher,
       .peers = peers,
       .key_providers = [&key_providers, tcti = config->keys.tpm_tcti](
                            std::string_view name) { return key_providers.lookup(name, tcti); },
       .attestation = [&key_providers, tcti = config->keys.tpm_tcti,
                       state_dir =
                           paths.state_dir] { return key_providers.attestation(tcti, state_dir); },
       // Linux: "auto" is the TPM, where [keys] tpm_context places it.
       .auto_keys = daemon::AutoKeyPlacement::tpm_per_config(*config),
       .notify_service_manager = [](const std::string& state) { sd_notify(0, state.c_str()); },
       .processes = &processes,
       .launch_agent = &launch_agent,
       .user_context = &user_context,
       .presence = &presence});
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
