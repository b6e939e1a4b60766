// Keeps exactly one agent per eligible session (or, for user-scope strategies, per user with an
// eligible session): launches it, knows its state, relaunches it with backoff when it dies,
// verifies the agent.hello that claims to be it, and stops it when its sessions end. Across a
// daemon restart it re-adopts the agents the previous daemon left (adoption records, or the
// user's service manager's word), waiting a bounded time for them before launching anything in
// their place. Driven by events only: session changes, hellos, agent exits, and timers that exist
// only while something is pending (a backoff, a stop escalation, an adoption wait).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/adoption_records.h"
#include "daemon/agent_launcher.h"
#include "daemon/off_loop.h"
#include "daemon/peer_identity.h"
#include "daemon/process_inspector.h"
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

// Stopping an agent: ask it (shutdown), then SIGTERM, then SIGKILL. An agent with no connection
// cannot be asked: it gets SIGTERM at once.
struct StopPolicy {
  std::chrono::milliseconds terminate_after{2000};
  std::chrono::milliseconds kill_after{5000};
};

// What lets agents outlive a daemon restart. Without a ProcessInspector nothing is recorded or
// re-adopted, and hellos without a token (user-scope strategies) are refused.
struct AdoptionOptions {
  const ProcessInspector* processes = nullptr;
  std::string records_directory;  // empty: no records
  // How long a restarted daemon waits for a recorded agent to say hello again before replacing
  // it. Agents retry every second at most, so three seconds cover a retry and a slow start.
  std::chrono::milliseconds wait{3000};
};

struct AgentView {
  Session session;
  AgentState state = AgentState::kStarting;
  pid_t pid = 0;
  std::string strategy;
  std::chrono::system_clock::time_point since;
  // The agent serving this session: the session id itself, or "user-<uid>" for user scope.
  std::string agent_id;
  // Why the last launch failed or the last agent ended, while it keeps failing; empty once an
  // agent ran long enough to count as healthy.
  std::string last_failure;
  int consecutive_failures = 0;
};

class AgentSupervisor {
 public:
  AgentSupervisor(asio::io_context& io, AgentLauncher& launcher, AdoptionOptions adoption = {},
                  BackoffPolicy backoff = {}, StopPolicy stop = {});
  ~AgentSupervisor();

  // Brings the agents in line with `eligible`: launches for new sessions (or users), stops for
  // gone ones, updates the record of sessions that changed state (active <-> online keeps its
  // agent). The first call also takes over what a previous daemon left.
  void reconcile(const std::vector<Session>& eligible);

  // reconcile() again with the sessions seen last: the strategy's answer to who gets an agent
  // may have changed (launch-agent installed or removed).
  void reconsider();

  // Verifies an agent.hello and, if it holds, makes `connection` that agent's. Returns the
  // hello's result (a session agent's carries the token for its next reconnect) or why not.
  protocol::Result<protocol::Json> accept_hello(
      const std::shared_ptr<protocol::Connection>& connection, const PeerCredentials& peer,
      const protocol::Json& params);

  // The agent id a connection that passed agent.hello speaks for; empty for any other.
  std::string agent_id_of(const std::shared_ptr<protocol::Connection>& connection) const;

  // Called when an agent's connection closed: the agent may reconnect.
  void agent_disconnected(const std::shared_ptr<protocol::Connection>& connection);

  // The ready agent serving a session, waiting up to `timeout` for one that is still starting.
  asio::awaitable<std::shared_ptr<protocol::Connection>> ready_connection(
      std::string session_id, std::chrono::milliseconds timeout);

  // One view per eligible session, ordered by session id.
  std::vector<AgentView> agents() const;

  // Stops every agent; `done` runs once all have exited (or were killed).
  void stop_all(std::function<void()> done);

  // Leaves every agent running for the next daemon (a restart): their records stay, their
  // connections close with this process and they reconnect to the next one.
  void hand_over();

 private:
  struct Slot;
  struct PendingAdoption;

  std::string agent_id_for(const Session& session) const;
  Slot* slot_serving(const std::string& session_id) const;
  void start_slot(const std::string& id, std::vector<Session> sessions);
  void apply_availability(Slot& slot);
  void launch(Slot& slot);
  void adopt(Slot& slot, PendingAdoption adoption);
  void watch_exit(Slot& slot);
  void on_exit(const std::string& id, int exit_status);
  void stop_process(Slot& slot);
  void begin_stop(Slot& slot);
  void escalate_stop(const std::string& id, int signal, std::chrono::milliseconds wait);
  void set_state(Slot& slot, AgentState state);
  void remove_slot(const std::string& id);
  void schedule_relaunch(Slot& slot);
  void save_record(const Slot& slot, std::vector<std::string> digests) const;
  void resume();
  void retire_unclaimed_adoptions();
  void retire_other_strategies_once(uid_t uid);
  protocol::Result<protocol::Json> accept_session_hello(
      const std::shared_ptr<protocol::Connection>& connection, const PeerCredentials& peer,
      const std::string& session_id, const std::string& token);
  protocol::Result<protocol::Json> accept_user_hello(
      const std::shared_ptr<protocol::Connection>& connection, const PeerCredentials& peer);
  std::expected<void, std::string> verify_unit_identity(const PeerCredentials& peer) const;
  std::expected<void, std::string> verify_launched(const LaunchedAgent& agent) const;
  void log_cannot_start(const Slot& slot, const std::string& reason, std::string_view event,
                        pid_t pid) const;
  void launch_failed(Slot& slot, const std::string& reason, std::string_view event);
  using LaunchResult = std::expected<LaunchedAgent, std::string>;
  void on_launched(const std::string& id, uint64_t attempt, LaunchResult launched);
  void finish_launch(Slot& slot, LaunchResult launched);
  void signal_agent(const LaunchedAgent& agent, int signal);

  asio::io_context& io_;
  AgentLauncher& launcher_;
  AdoptionOptions adoption_;
  AdoptionRecords records_;
  BackoffPolicy backoff_;
  StopPolicy stop_;
  std::map<std::string, std::unique_ptr<Slot>> slots_;
  std::map<std::string, PendingAdoption> pending_adoptions_;
  std::vector<Session> last_eligible_;
  std::set<uid_t> retired_for_;
  bool resumed_ = false;
  bool handing_over_ = false;
  bool stopping_all_ = false;
  std::function<void()> all_stopped_;
  // Last, so it is destroyed first: it joins the calls still running, which use launcher_.
  OffLoop off_loop_{io_.get_executor()};
};

}  // namespace liaison::daemon
