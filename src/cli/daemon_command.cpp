// `liaison daemon`: wires the Linux platform into the portable daemon and runs the event loop.
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <climits>
#include <cstdio>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "common/config.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "platform/linux/exec_launcher.h"
#include "platform/linux/logind_session_source.h"
#include "platform/linux/peer_credentials.h"
#include "platform/linux/session_environment.h"

namespace liaison::cli {
namespace {

std::expected<std::string, std::string> own_executable() {
  char path[PATH_MAX];
  ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) return std::unexpected("cannot read /proc/self/exe");
  return std::string(path, static_cast<std::size_t>(length));
}

int fail(const std::string& message) {
  log::error(message);
  return kExitFailed;
}

}  // namespace

int run_daemon(const DaemonFlags& flags) {
  const bool config_given = !flags.config_path.empty();
  auto config = load_config(config_given ? flags.config_path : std::string(kDefaultConfigPath),
                            config_given);
  if (!config) return fail(config.error());
  log::Level level = log::Level::kInfo;
  if (!log::parse_level(flags.log_level.empty() ? config->log.level : flags.log_level, level)) {
    return fail(fmt::format("unknown log level \"{}\"", flags.log_level));
  }
  log::set_level(level);
  if (::geteuid() != 0) return fail("the daemon must run as root: it starts agents as other users");
  if (config->agent.launch != "exec") {
    return fail(fmt::format(
        "[agent] launch = \"{}\" is not available in this version; use \"exec\"", config->agent.launch));
  }
  ::signal(SIGPIPE, SIG_IGN);

  daemon::DaemonPaths paths{runtime_dir_from(flags.runtime_dir), flags.state_dir};
  auto sessions = platform::LogindSessionSource::create();
  if (!sessions) return fail(sessions.error());
  auto executable = own_executable();
  if (!executable) return fail(executable.error());
  platform::ExecLauncher launcher({*executable, "agent"}, paths.agent_socket(),
                                  platform::agent_environment_for);
  platform::LinuxPeerIdentity peers;

  asio::io_context io;
  daemon::Daemon daemon(io, *config, paths,
                        {**sessions, launcher, peers,
                         [](const std::string& state) { sd_notify(0, state.c_str()); }});
  if (auto started = daemon.start(); !started) return fail(started.error());

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code& error, int) {
    if (!error) daemon.stop([&io] { io.stop(); });
  });
  io.run();
  log::info("daemon stopped", {{"LIAISON_EVENT", "daemon-stopped"}});
  return kExitOk;
}

}  // namespace liaison::cli
