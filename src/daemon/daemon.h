// The root daemon: owns the two sockets, follows login sessions, keeps one agent per eligible
// session through the supervisor, and routes control requests to agents. Everything runs on one
// Asio io_context; nothing here blocks or polls.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/config.h"
#include "common/default_paths.h"
#include "daemon/agent_connection_quota.h"
#include "daemon/agent_launcher.h"
#include "daemon/agent_supervisor.h"
#include "daemon/attestation_service.h"
#include "daemon/auto_key_placement.h"
#include "daemon/control_service.h"
#include "daemon/doctor.h"
#include "daemon/key_router.h"
#include "daemon/launch_agent_service.h"
#include "daemon/notification_outcomes.h"
#include "daemon/peer_identity.h"
#include "daemon/presence_key_verifier.h"
#include "daemon/presence_service.h"
#include "daemon/presence_verifier.h"
#include "daemon/process_inspector.h"
#include "daemon/rate_limiter.h"
#include "daemon/session_source.h"
#include "daemon/user_context_probe.h"
#include "daemon/users.h"

namespace liaison::daemon {

struct DaemonPaths {
  std::string runtime_dir = kDefaultRuntimeDir;
  std::string state_dir = "/var/lib/liaison";
  std::string agent_socket() const { return runtime_dir + "/agent.sock"; }
  std::string control_socket() const { return runtime_dir + "/control.sock"; }
};

// What the daemon needs from the platform, injected so the core stays portable and testable.
struct DaemonParts {
  SessionSource& sessions;
  AgentLauncher& launcher;
  PeerIdentity& peers;
  // The key providers that can run in the daemon, by name ("software"; "tpm" where config places
  // the TPM here). None by default: every key operation then says why.
  keys::KeyManager::ProviderLookup key_providers = [](std::string_view name) {
    return keys::KeyResult<keys::UnexportableKeyProvider*>(std::unexpected(
        keys::KeyError{"unavailable", "no key provider \"" + std::string(name) + "\" here"}));
  };
  // The TPM's attestation (attest.*), opened on first use. None by default: attest.* then says
  // why (macOS; a platform without a TPM).
  AttestationService::AttestationLookup attestation = AttestationService::none;
  // What [keys] backend = "auto" means here (the platform wiring decides). Unset: the Linux
  // meaning, AutoKeyPlacement::tpm_per_config (the TPM where [keys] tpm_context places it).
  std::optional<AutoKeyPlacement> auto_keys;
  // Tells the service manager about readiness ("READY=1") and shutdown ("STOPPING=1").
  std::function<void(const std::string&)> notify_service_manager = [](const std::string&) {};
  // Facts about agent processes (Linux: /proc, sd-login, pidfds). Without it agents are not
  // re-adopted across a daemon restart, and user-scope agents (asuser, launch-agent) are refused.
  const ProcessInspector* processes = nullptr;
  // Installs and reports the launch-agent unit (launch_agent.*); null where there is none.
  LaunchAgentInstaller* launch_agent = nullptr;
  // What `liaison doctor` asks about users' contexts; null leaves those findings out.
  UserContextProbe* user_context = nullptr;
  // Who asks the person at a session to prove it is them (presence.check); null: `unavailable`.
  PresenceVerifier* presence = nullptr;
  // macOS: presence by a key in the session that only its user unlocks (PresenceKeyVerifier,
  // which the daemon makes: it talks to agents); `presence` is then unused.
  bool presence_by_session_key = false;
  // Who a call's `user` is: the user database; fixed accounts in tests.
  UserLookup users = resolve_user;
};

class Daemon {
 public:
  static constexpr std::size_t kMaxControlConnections = 128;
  static constexpr std::size_t kMaxAgentConnections = 512;
  // Connections of one uid that have not said agent.hello yet: anyone may connect to agent.sock,
  // and one hostile user must not crowd out everyone else's agents.
  static constexpr std::size_t kMaxUnprovenAgentsPerUid = 16;
  static constexpr uint32_t kRefusalsLoggedPerMinute = 10;
  static constexpr uint32_t kRefusalsLoggedPerMinuteInAll = 100;
  static constexpr std::chrono::milliseconds kHelloTimeout{5000};

  Daemon(asio::io_context& io, Config config, DaemonPaths paths, DaemonParts parts);
  ~Daemon();

  // Binds the sockets, takes the first look at sessions, and starts serving.
  std::expected<void, std::string> start();

  // Stops every agent gracefully, closes the sockets, then calls `done`.
  void stop(std::function<void()> done);

  // For a restart: closes the sockets and leaves every agent running for the next daemon, which
  // re-adopts them (docs/architecture.md); calls `done` at once.
  void hand_over(const std::function<void()>& done);

 private:
  std::expected<void, std::string> bind_sockets();
  void stop_listening();
  void refresh_sessions();
  asio::awaitable<void> watch_sessions();
  asio::awaitable<void> accept_loop(asio::local::stream_protocol::acceptor& acceptor,
                                    bool is_control);
  void serve_control(asio::local::stream_protocol::socket socket);
  void serve_agent(asio::local::stream_protocol::socket socket);
  void log_refused_hello(const PeerCredentials& peer, const protocol::Json& params,
                         std::string_view reason);
  asio::awaitable<protocol::Result<protocol::Json>> handle_agent_message(
      std::weak_ptr<protocol::Connection> weak, const PeerCredentials& peer,
      std::shared_ptr<std::string> session, std::shared_ptr<asio::steady_timer> hello_deadline,
      std::shared_ptr<AgentConnectionQuota::Slot> slot, protocol::Request request);

  asio::io_context& io_;
  Config config_;
  DaemonPaths paths_;
  DaemonParts parts_;
  AgentSupervisor supervisor_;
  NotificationOutcomes outcomes_;
  KeyRouter keys_;
  LaunchAgentService launch_agents_;
  AttestationService attestation_;
  std::unique_ptr<PresenceKeyVerifier> presence_key_verifier_;  // presence_by_session_key
  PresenceService presence_;
  Doctor doctor_;
  ControlService control_;
  asio::local::stream_protocol::acceptor agent_acceptor_;
  asio::local::stream_protocol::acceptor control_acceptor_;
  std::unique_ptr<asio::posix::stream_descriptor> session_changes_;
  std::set<std::string> explained_ineligible_;  // sessions whose skip was logged already
  std::size_t control_connections_ = 0;
  AgentConnectionQuota agent_quota_{kMaxAgentConnections, kMaxUnprovenAgentsPerUid};
  // Refused hellos are logged at most kRefusalsLoggedPerMinute a minute per uid and
  // kRefusalsLoggedPerMinuteInAll in all (one user may own 65536 subordinate uids); the rest are
  // counted and summed up in the next line that is logged, so no one can flood the journal.
  RateLimiter refusal_log_limiter_{kRefusalsLoggedPerMinute, RateLimiter::Clock::now,
                                   kRefusalsLoggedPerMinuteInAll};
  std::size_t refusals_not_logged_ = 0;
  bool stopping_ = false;
};

}  // namespace liaison::daemon
