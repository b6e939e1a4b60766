// `liaison daemon` on macOS: wires the macOS platform into the portable daemon and runs the event
// loop. Apple only: compiled and linked by make macos-check, never run
// (no Mac was available; docs/macos.md, "verified where").
// The Linux twin is src/cli/daemon_command.cpp.
#include <fmt/format.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/modules.h"
#include "common/config.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "keys/software_provider.h"
#include "platform/macos/command_runner.h"
#include "platform/macos/console_session_source.h"
#include "platform/macos/darwin_process_inspector.h"
#include "platform/macos/launchctl.h"
#include "platform/macos/launchctl_launchers.h"
#include "platform/macos/launchd_launch_agent.h"
#include "platform/macos/launchd_plist.h"
#include "platform/macos/peer_identity_darwin.h"
#include "platform/macos/peer_token.h"
#include "platform/macos/setuid_exec_launcher.h"
#include "platform/macos/user_context_probe.h"

namespace liaison::cli {
namespace {

namespace macos = platform::macos;

int fail(const std::string& message) {
  log::error(message);
  return kExitFailed;
}

// The agent must be the main executable of Liaison.app (UserNotifications and the keychain
// entitlements need it); a development build without the app runs itself, and says so.
std::string agent_executable(const std::string& own) {
  const std::string installed(macos::kAgentExecutable);
  if (access(installed.c_str(), X_OK) == 0) return installed;
  log::warning(fmt::format("{} is missing: agents run {}, outside an app bundle, so they cannot "
                           "notify or use the Secure Enclave (docs/macos.md)",
                           installed, own));
  return own;
}

// Agents must be signed by our own team as dev.liaison.agent; an unsigned daemon (a development
// build) cannot name its team, so it checks agents by uid, token and launchd job only.
std::optional<macos::AgentCodeCheck> agent_code_check(const daemon::DaemonPaths& paths) {
  auto team = macos::own_team_identifier();
  if (!team) {
    log::warning(fmt::format("agents are not checked by code signature: {}", team.error()));
    return std::nullopt;
  }
  auto requirement = macos::team_code_requirement(*team, macos::kAgentBundleIdentifier);
  if (!requirement) {
    log::warning(fmt::format("agents are not checked by code signature: {}", requirement.error()));
    return std::nullopt;
  }
  return macos::AgentCodeCheck{paths.agent_socket(), *requirement};
}

// The daemon's key providers on macOS: software keys only. The Secure Enclave cannot be reached
// from a daemon (Apple DTS); its keys live in the user's agent.
keys::KeyResult<keys::UnexportableKeyProvider*> daemon_key_provider(
    keys::SoftwareKeyProvider& software, std::string_view name) {
  if (name == keys::kSoftwareProviderName) return &software;
  if (name == "secure-enclave") {
    return std::unexpected(keys::KeyError{
        "unavailable", "Secure Enclave keys are made in the user's agent, not in the daemon"});
  }
  if (name == "tpm") return std::unexpected(keys::KeyError{"unavailable", "a Mac has no TPM"});
  return std::unexpected(
      keys::KeyError{"invalid_params", fmt::format("no key backend \"{}\"", name)});
}

}  // namespace

int run_daemon(const DaemonFlags& flags) {
  const bool config_given = !flags.config_path.empty();
  auto config =
      load_config(config_given ? flags.config_path : std::string(kDefaultConfigPath), config_given);
  if (!config) return fail(config.error());
  log::Level level = log::Level::kInfo;
  if (!log::parse_level(flags.log_level.empty() ? config->log.level : flags.log_level, level)) {
    return fail(fmt::format("unknown log level \"{}\"", flags.log_level));
  }
  log::set_level(level);
  if (::geteuid() != 0) return fail("the daemon must run as root: it starts agents as other users");
  ::signal(SIGPIPE, SIG_IGN);

  // --runtime-dir, $LIAISON_RUNTIME_DIR, else /var/run/liaison (common/default_paths.h).
  daemon::DaemonPaths paths{runtime_dir_from(flags.runtime_dir), flags.state_dir};
  auto sessions = macos::make_console_session_source();
  if (!sessions) return fail(sessions.error());
  auto executable = own_executable();
  if (!executable) return fail(executable.error());
  const std::vector<std::string> agent_command{agent_executable(*executable), "agent"};

  macos::SpawnCommandRunner runner;
  macos::Launchctl launchctl(runner);
  macos::LaunchdLaunchAgent launch_agent(launchctl);
  macos::MacAsUserLauncher as_user(agent_command);
  macos::MacLaunchAgentLauncher launch_agent_launcher(runner);
  macos::SetuidExecLauncher exec(agent_command, paths.agent_socket(), macos::process_exit_fd);
  daemon::AgentLauncher* launcher = &exec;
  if (config->agent.launch == "asuser") launcher = &as_user;
  if (config->agent.launch == "launch-agent") launcher = &launch_agent_launcher;
  if (config->agent.launch == "exec") {
    log::warning("[agent] launch = \"exec\" on macOS is the setuid-only baseline: its agents "
                 "cannot notify or use the Secure Enclave; use \"launch-agent\" (docs/macos.md)");
  }
  // Which launchd job or asuser launch runs a peer: what sd-login answers on Linux.
  macos::DarwinProcessInspector processes([&](pid_t pid, uid_t uid) -> std::string {
    if (launcher == &launch_agent_launcher) return launch_agent_launcher.unit_of(pid, uid);
    if (launcher == &as_user) return as_user.unit_of(pid);
    return {};
  });
  macos::DarwinPeerIdentity peers("liaison", agent_code_check(paths));
  macos::MacUserContextProbe user_context(launchctl);
  keys::SoftwareKeyProvider software(keys::KeyContext::kDaemon);

  asio::io_context io;
  daemon::Daemon daemon(
      io, *config, paths,
      {.sessions = **sessions,
       .launcher = *launcher,
       .peers = peers,
       .key_providers =
           [&software](std::string_view name) { return daemon_key_provider(software, name); },
       // No TPM, and Apple attests Secure Enclave keys to third parties only through Managed
       // Device Attestation (MDM): docs/macos.md.
       .attestation =
           [] {
             return keys::KeyResult<keys::Attestation*>(std::unexpected(keys::KeyError{
                 "unavailable", "macOS has no TPM; Apple attests Secure Enclave keys only "
                                "through Managed Device Attestation (MDM), see docs/macos.md"}));
           },
       // macOS: "auto" is the Secure Enclave in the user's agent, else a software key there.
       .auto_keys = daemon::AutoKeyPlacement::secure_enclave_in_session(),
       // launchd has no readiness protocol: a LaunchDaemon is "running" once spawned.
       .notify_service_manager = [](const std::string&) {},
       .processes = &processes,
       .launch_agent = &launch_agent,
       .user_context = &user_context,
       // presence.check: a nonce the agent's user-presence Secure Enclave key signs (issue 26).
       .presence_by_session_key = true});
  if (auto started = daemon.start(); !started) return fail(started.error());

  // launchd sends SIGTERM for bootout and at shutdown; there is no "restart job" to ask about as
  // on Linux, so every SIGTERM is a stop (KeepAlive starts the daemon again when it should run).
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code& error, int) {
    if (error) return;
    daemon.stop([&io] { io.stop(); });
  });
  io.run();
  log::info("daemon stopped", {{"LIAISON_EVENT", "daemon-stopped"}});
  return kExitOk;
}

}  // namespace liaison::cli
