// Keeps exactly one agent per eligible session: launches it, knows its state, relaunches it with
// backoff when it dies, verifies the agent.hello that claims to be it, and stops it when the
// session ends. Driven by events only: session changes, agent hellos, agent exits, and timers that
// exist only while something is pending (a backoff, a stop escalation).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "daemon/agent_launcher.h"
#include "daemon/peer_identity.h"
#include "daemon/session.h"
#include "protocol/connection.h"

namespace liaison::daemon {

enum class AgentState { kStarting, kReady, kBackoff, kStopping, kStopped };
std::string_view agent_state_name(AgentState state);

// Backoff between relaunches: 0.5 s doubling to 30 s; a minute of health forgives past crashes.
struct BackoffPolicy {
  std::chrono::milliseconds first{500};
  std::chrono::milliseconds cap{30'000};
  std::chrono::milliseconds healthy_after{60'000};
  std::chrono::milliseconds delay_after(int consecutive_failures) const;
};

// Stopping an agent: ask it (shutdown), then SIGTERM, then SIGKILL.
struct StopPolicy {
  std::chrono::milliseconds terminate_after{2000};
  std::chrono::milliseconds kill_after{5000};
};

struct AgentView {
  Session session;
  AgentState state = AgentState::kStarting;
  pid_t pid = 0;
  std::string strategy;
  std::chrono::system_clock::time_point since;
};

class AgentSupervisor {
 public:
  AgentSupervisor(asio::io_context& io, AgentLauncher& launcher, BackoffPolicy backoff = {},
                  StopPolicy stop = {});
  ~AgentSupervisor();

  // Brings the agents in line with `eligible`: launches for new sessions, stops for gone ones,
  // updates the record of sessions that changed state (active <-> online keeps its agent).
  void reconcile(const std::vector<Session>& eligible);

  // Verifies an agent.hello and, if it holds, makes `connection` the session's agent. Returns the
  // hello's result (carrying the token for the agent's next reconnect) or why it was refused.
  protocol::Result<protocol::Json> accept_hello(const std::shared_ptr<protocol::Connection>& connection,
                                                const PeerCredentials& peer,
                                                const protocol::Json& params);

  // Called when an agent's connection closed: the agent may reconnect with its next token.
  void agent_disconnected(const std::shared_ptr<protocol::Connection>& connection);

  // The ready agent of a session, waiting up to `timeout` for one that is still starting.
  asio::awaitable<std::shared_ptr<protocol::Connection>> ready_connection(
      std::string session_id, std::chrono::milliseconds timeout);

  std::vector<AgentView> agents() const;

  // Stops every agent; `done` runs once all have exited (or were killed).
  void stop_all(std::function<void()> done);

 private:
  struct Slot;

  void launch(Slot& slot);
  void watch_exit(Slot& slot);
  void on_exit(const std::string& session_id, int exit_status);
  void begin_stop(Slot& slot);
  void escalate_stop(const std::string& session_id, int signal, std::chrono::milliseconds wait);
  void set_state(Slot& slot, AgentState state);
  void remove_slot(const std::string& session_id);
  void schedule_relaunch(Slot& slot);

  asio::io_context& io_;
  AgentLauncher& launcher_;
  BackoffPolicy backoff_;
  StopPolicy stop_;
  std::map<std::string, std::unique_ptr<Slot>> slots_;
  std::function<void()> all_stopped_;
};

}  // namespace liaison::daemon
