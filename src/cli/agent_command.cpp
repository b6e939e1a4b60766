// `liaison agent`: started by the daemon (or the user's service manager) inside a session; never
// by hand. It takes its session and one-time token from what the launcher handed it.
#include <fmt/format.h>
#include <signal.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cstdlib>
#include <string>

#include "agent/agent.h"
#include "cli/agent_keys_on_demand.h"
#include "cli/agent_startup.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "common/default_paths.h"
#include "common/log.h"
#include "keys/key_store.h"
#include "platform/linux/dbus_notifier.h"
#include "platform/linux/logind_session_watch.h"
#include "platform/linux/session_bus_probe.h"
#include "platform/linux/session_environment.h"

namespace liaison::cli {
namespace {

// Whether this process runs as a unit of a user's own service manager (asuser, launch-agent).
bool runs_in_user_manager() {
  char* unit = nullptr;
  const bool in_unit = sd_pid_get_user_unit(0, &unit) >= 0;
  std::free(unit);  // NOLINT(cppcoreguidelines-no-malloc)
  return in_unit;
}

std::expected<std::unique_ptr<agent::Notifier>, std::string> make_dbus_notifier(
    asio::io_context& io, agent::NotifierEvents events, const std::string& session_id) {
  auto notifier = platform::DbusNotifier::connect(std::move(events));
  if (!notifier) {
    return std::unexpected(notifier.error());
  }
  platform::XdgUrlOpenerOptions opener;
  if (!session_id.empty()) {
    // A clicked URL opens on the display the session has now, not the one this agent inherited.
    opener.session_environment = [session_id] {
      return platform::current_session_display_environment(session_id);
    };
  }
  if (auto attached = (*notifier)->attach(io, {}, std::move(opener)); !attached) {
    return std::unexpected(attached.error());
  }
  return std::unique_ptr<agent::Notifier>(std::move(*notifier));
}

}  // namespace

int run_agent() {
  ::signal(SIGPIPE, SIG_IGN);
  agent::AgentOptions options =
      agent_options_from_environment(fmt::format("{}/agent.sock", kDefaultRuntimeDir));
  if (options.session_id.empty() && !runs_in_user_manager()) {
    fmt::print(stderr,
               "liaison: `liaison agent` is started by the liaison daemon inside a session or by "
               "the user's service manager, not by hand (LIAISON_SESSION is not set)\n");
    return kExitUsage;
  }
  // A session agent also leaves when its session ends; a user-level agent serves all of the
  // user's sessions and is stopped by the daemon (or its graphical-session.target) instead.
  std::expected<std::unique_ptr<platform::LogindSessionWatch>, std::string> session_watch =
      std::unique_ptr<platform::LogindSessionWatch>();
  if (!options.session_id.empty()) {
    session_watch = platform::LogindSessionWatch::create(options.session_id);
    if (!session_watch) {
      // Not fatal: the daemon still stops this agent at logout; only its own check is missing.
      log::warning(session_watch.error(), {{"LIAISON_SESSION", options.session_id}});
    }
  }
  asio::io_context io;
  agent::Agent agent(
      io, options,
      [&io, session = options.session_id](agent::NotifierEvents events) {
        return make_dbus_notifier(io, std::move(events), session);
      },
      session_watch ? std::move(*session_watch) : nullptr);
  agent.set_probe(std::make_unique<platform::SessionBusProbe>());
  if (auto store = keys::agent_key_directory(std::getenv("XDG_DATA_HOME"), std::getenv("HOME"))) {
    agent.set_keys(std::make_unique<AgentKeysOnDemand>(io, *store, &load_agent_keys_module));
  }
  int exit_code = kExitOk;
  agent.start([&](int code) {
    exit_code = code;
    io.stop();
  });
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code& error, int) {
    if (!error) {
      io.stop();
    }
  });
  io.run();
  return exit_code;
}

}  // namespace liaison::cli
