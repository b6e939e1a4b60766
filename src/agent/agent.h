// The desktop agent: runs as the user inside one login session, connects to the daemon, proves
// who it is, and does what only the session's context can do (show notifications). If the daemon
// goes away it reconnects with backoff; if the daemon stays away past a grace period, or tells it
// to shut down, it leaves.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <string>

#include "agent/key_service.h"
#include "agent/notifier.h"
#include "agent/presence_key.h"
#include "agent/session_probe.h"
#include "agent/session_watch.h"
#include "protocol/connection.h"

namespace liaison::agent {

struct AgentOptions {
  std::string socket_path = "/run/liaison/agent.sock";
  std::string session_id;
  std::string token;  // the one-time token from the daemon; replaced after every hello
  std::chrono::milliseconds daemon_grace{60'000};
  std::chrono::milliseconds first_retry{100};
  std::chrono::milliseconds max_retry{5'000};
};

// Makes the notifier once the agent is connected to the daemon, and again at the next notification
// while there is none (the session bus can come up a moment after the agent does).
using NotifierFactory =
    std::function<std::expected<std::unique_ptr<Notifier>, std::string>(NotifierEvents events)>;

class Agent {
 public:
  // `session_watch` may be null (tests); with it the agent also leaves when its session ends.
  Agent(asio::io_context& io, AgentOptions options, NotifierFactory make_notifier,
        std::unique_ptr<SessionWatch> session_watch = nullptr);

  // Serves key.* for the user's session keys; without it those calls fail as unavailable.
  void set_keys(std::unique_ptr<KeyService> keys) { keys_ = std::move(keys); }

  // Signs the daemon's presence challenges (presence.*, macOS); without it they are unavailable.
  void set_presence_key(std::unique_ptr<PresenceKey> key) { presence_key_ = std::move(key); }

  // Examines the session for `liaison doctor`; without it the agent reports only its keys.
  void set_probe(std::unique_ptr<SessionProbe> probe) { probe_ = std::move(probe); }

  // Starts connecting; `on_exit(code)` runs once when the agent decides to leave.
  void start(std::function<void(int exit_code)> on_exit);

 private:
  asio::awaitable<void> run();
  asio::awaitable<void> watch_session();
  asio::awaitable<bool> connect_and_hello();
  asio::awaitable<protocol::Result<protocol::Json>> handle(protocol::Request request);
  asio::awaitable<protocol::Result<protocol::Json>> handle_presence(protocol::Request request);
  asio::awaitable<protocol::Result<protocol::Json>> sign_presence(const protocol::Json& params);
  protocol::Result<protocol::Json> show(const protocol::Json& params);
  protocol::Json examine(const protocol::Json& params);
  void report(std::string method, protocol::Json params);
  // The notifier, made now if there is none yet.
  std::expected<void, std::string> ensure_notifier();
  void leave(int exit_code);

  asio::io_context& io_;
  AgentOptions options_;
  NotifierFactory make_notifier_;
  std::unique_ptr<SessionWatch> session_watch_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<KeyService> keys_;
  std::unique_ptr<SessionProbe> probe_;
  std::unique_ptr<PresenceKey> presence_key_;
  std::shared_ptr<protocol::Connection> connection_;
  std::function<void(int)> on_exit_;
  bool leaving_ = false;
};

}  // namespace liaison::agent
