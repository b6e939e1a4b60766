// `liaison agent` on macOS: started in a user's GUI login by launchd (launch-agent), by
// `launchctl asuser` or by the daemon (exec); never by hand. Apple only: compiled and linked by
// make macos-check, never run (no Mac was available; docs/macos.md, "verified where"). The Linux
// twin is src/cli/agent_command.cpp.
//
// Threads. UserNotifications delivers its delegate callbacks (a click, a dismiss) on the main
// dispatch queue, so the main thread must service that queue. It runs dispatch_main(), which
// serves the main queue and nothing else, and never returns; the agent itself (its Asio
// io_context, the daemon connection, key operations) runs on a second thread, as on Linux.
// Every callback from the framework is handed to the io_context with asio::post, so the agent's
// objects are only ever touched from its own thread. dispatch_main() rather than [NSApplication
// run]: the agent has no windows or menu (LSUIElement), and needs no AppKit event loop for
// notifications or for NSWorkspace's openURL: (believed, not verified on a Mac). When the agent
// leaves, the io thread asks the main queue to exit(), so the process ends on its main thread.
#import <Foundation/Foundation.h>
#include <dispatch/dispatch.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <cstdlib>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "agent/agent_keys.h"
#include "cli/agent_startup.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "common/config.h"
#include "common/default_paths.h"
#include "common/log.h"
#include "keys/key_store.h"
#include "keys/software_provider.h"
#include "platform/macos/notification_session_probe.h"
#include "platform/macos/secure_enclave_provider.h"
#include "platform/macos/user_notification_notifier.h"
#include "platform/macos/user_presence_key.h"

namespace liaison::cli {
namespace {

// The notifier's events, delivered on the main queue, re-posted onto the agent's io_context.
agent::NotifierEvents posted_to(asio::io_context& io, agent::NotifierEvents events) {
  agent::NotifierEvents posted;
  if (events.on_action) {
    posted.on_action = [&io, on_action = events.on_action](uint32_t id, const std::string& action) {
      asio::post(io, [on_action, id, action] { on_action(id, action); });
    };
  }
  if (events.on_closed) {
    posted.on_closed = [&io, on_closed = events.on_closed](uint32_t id, agent::CloseReason reason) {
      asio::post(io, [on_closed, id, reason] { on_closed(id, reason); });
    };
  }
  return posted;
}

// The software and Secure Enclave providers of the user's session; the TPM does not exist here.
class MacAgentKeyProviders {
 public:
  explicit MacAgentKeyProviders(std::string keychain_access_group)
      : software_(keys::KeyContext::kUserSession),
        secure_enclave_(
            platform::macos::make_secure_enclave_provider(std::move(keychain_access_group))) {}

  keys::KeyResult<keys::UnexportableKeyProvider*> lookup(std::string_view name) {
    if (name == keys::kSoftwareProviderName) return &software_;
    if (name == "secure-enclave") return secure_enclave_.get();
    if (name == "tpm") return std::unexpected(keys::KeyError{"unavailable", "a Mac has no TPM"});
    return std::unexpected(
        keys::KeyError{"invalid_params", fmt::format("no key backend \"{}\"", name)});
  }

 private:
  keys::SoftwareKeyProvider software_;
  std::unique_ptr<keys::UnexportableKeyProvider> secure_enclave_;
};

}  // namespace

int run_agent() {
  ::signal(SIGPIPE, SIG_IGN);
  agent::AgentOptions options =
      agent_options_from_environment(std::string(kDefaultRuntimeDir) + "/agent.sock");
  // The agent reads the same configuration file as the daemon, only for the keychain access
  // group ([keys] keychain_access_group); an unreadable file leaves the app's default group.
  auto config = load_config(std::string(kDefaultConfigPath), false);
  if (!config) log::warning(config.error());
  const std::string access_group = config ? config->keys.keychain_access_group : std::string();

  // Everything below lives until exit(): the main thread never returns from dispatch_main().
  static asio::io_context io;
  static agent::Agent agent(
      io, options,
      [](agent::NotifierEvents events) {
        return platform::macos::make_user_notification_notifier(posted_to(io, std::move(events)));
      },
      // No session watch: launchd ends a LaunchAgent at logout, and the daemon stops exec and
      // asuser agents when their session ends.
      nullptr);
  agent.set_probe(platform::macos::make_notification_session_probe());
  // presence.check's key (issue 26): Touch ID or the password for every signature.
  agent.set_presence_key(platform::macos::make_user_presence_key(access_group));
  static MacAgentKeyProviders key_providers(access_group);
  if (auto store = keys::agent_key_directory(std::getenv("XDG_DATA_HOME"), std::getenv("HOME"))) {
    agent.set_keys(std::make_unique<agent::AgentKeys>(
        *store, [](std::string_view name, const std::string& /*tpm_tcti*/) {
          return key_providers.lookup(name);
        }));
  }
  static int exit_code = kExitOk;
  agent.start([](int code) {
    exit_code = code;
    io.stop();
  });
  static asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([](const std::error_code& error, int) {
    if (!error) io.stop();
  });

  std::thread([] {
    io.run();
    dispatch_async(dispatch_get_main_queue(), ^{
      std::exit(exit_code);
    });
  }).detach();
  dispatch_main();  // serves the main queue (UserNotifications' callbacks); never returns
}

}  // namespace liaison::cli
