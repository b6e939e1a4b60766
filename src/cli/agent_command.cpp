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
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/key_providers.h"
#include "common/log.h"
#include "keys/key_store.h"
#include "platform/linux/dbus_notifier.h"
#include "platform/linux/logind_session_watch.h"
#include "platform/linux/session_environment.h"

namespace liaison::cli {
namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Reads the token the launcher wrote into the pipe at LIAISON_TOKEN_FD, then closes it, so no
// child this agent starts (xdg-open) inherits it.
std::string take_token() {
  const std::string fd_text = env_or("LIAISON_TOKEN_FD", "");
  ::unsetenv("LIAISON_TOKEN_FD");
  if (fd_text.empty()) return "";
  const int fd = std::atoi(fd_text.c_str());
  std::string token;
  char chunk[128];
  for (ssize_t got; token.size() < 1024 && (got = ::read(fd, chunk, sizeof(chunk))) != 0;) {
    if (got < 0) {
      if (errno == EINTR) continue;
      break;
    }
    token.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

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
  if (!notifier) return std::unexpected(notifier.error());
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
  agent::AgentOptions options;
  options.session_id = env_or("LIAISON_SESSION", "");
  options.socket_path = env_or("LIAISON_AGENT_SOCKET", "/run/liaison/agent.sock");
  options.token = take_token();
  if (const char* grace = std::getenv("LIAISON_DAEMON_GRACE_SECONDS")) {
    options.daemon_grace = std::chrono::seconds(std::atoi(grace));
  }
  // After a daemon restart, come back within a second: the new daemon waits only a few.
  options.max_retry = std::chrono::seconds(1);
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
  KeyProviders key_providers(io, keys::KeyContext::kUserSession, /*tpm_here=*/true);
  if (auto store = keys::agent_key_directory(std::getenv("XDG_DATA_HOME"), std::getenv("HOME"))) {
    agent.set_keys(std::make_unique<agent::AgentKeys>(
        *store, [&key_providers](std::string_view name, const std::string& tcti) {
          return key_providers.lookup(name, tcti);
        }));
  }
  int exit_code = kExitOk;
  agent.start([&](int code) {
    exit_code = code;
    io.stop();
  });
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code& error, int) {
    if (!error) io.stop();
  });
  io.run();
  return exit_code;
}

}  // namespace liaison::cli
