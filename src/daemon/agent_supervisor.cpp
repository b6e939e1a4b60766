#include "daemon/agent_supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/log.h"
#include "daemon/agent_token.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("ended (wait status {})", status);
}

Error refused(std::string message) {
  return Error::application(protocol::codes::kNotPermitted, std::move(message));
}

}  // namespace

std::string_view agent_state_name(AgentState state) {
  switch (state) {
    case AgentState::kStarting:
      return "starting";
    case AgentState::kReady:
      return "ready";
    case AgentState::kBackoff:
      return "backoff";
    case AgentState::kStopping:
      return "stopping";
    case AgentState::kStopped:
      return "stopped";
  }
  return "stopped";
}

std::chrono::milliseconds BackoffPolicy::delay_after(int consecutive_failures) const {
  auto delay = first;
  for (int i = 1; i < consecutive_failures && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

struct AgentSupervisor::Slot {
  Slot(asio::io_context& io, Session s) : session(std::move(s)), timer(io) {}

  Session session;
  AgentState state = AgentState::kStarting;
  std::chrono::system_clock::time_point since = std::chrono::system_clock::now();
  LaunchedAgent process;
  std::unique_ptr<asio::posix::stream_descriptor> exit_watch;
  std::string token;  // what the next agent.hello must present; never logged
  std::shared_ptr<protocol::Connection> connection;
  asio::steady_timer timer;  // pending backoff or stop escalation
  int consecutive_failures = 0;
  std::chrono::steady_clock::time_point launched_at;
  bool wanted = true;  // false once its session is gone: it is being stopped for good
  std::vector<asio::steady_timer*> ready_waiters;
};

AgentSupervisor::AgentSupervisor(asio::io_context& io, AgentLauncher& launcher,
                                 BackoffPolicy backoff, StopPolicy stop)
    : io_(io), launcher_(launcher), backoff_(backoff), stop_(stop) {}

AgentSupervisor::~AgentSupervisor() = default;

void AgentSupervisor::reconcile(const std::vector<Session>& eligible) {
  for (const Session& session : eligible) {
    auto found = slots_.find(session.id);
    if (found != slots_.end()) {
      if (found->second->wanted) found->second->session = session;  // e.g. active -> online
      continue;
    }
    auto slot = std::make_unique<Slot>(io_, session);
    Slot& added = *slot;
    slots_.emplace(session.id, std::move(slot));
    launch(added);
  }
  std::vector<std::string> gone;
  for (const auto& [id, slot] : slots_) {
    const bool still_there = std::any_of(eligible.begin(), eligible.end(),
                                         [&](const Session& s) { return s.id == id; });
    if (!still_there && slot->wanted) gone.push_back(id);
  }
  for (const std::string& id : gone) begin_stop(*slots_.at(id));
}

void AgentSupervisor::set_state(Slot& slot, AgentState state) {
  if (slot.state == state) return;
  slot.state = state;
  slot.since = std::chrono::system_clock::now();
  // Once per transition, never per attempt: a crash loop is one "backoff" line, not a flood.
  log::info(fmt::format("agent for session {} of {} is {}", slot.session.id, slot.session.user,
                        agent_state_name(state)),
            {{"LIAISON_SESSION", slot.session.id},
             {"LIAISON_UID", std::to_string(slot.session.uid)},
             {"LIAISON_AGENT_PID", std::to_string(slot.process.pid)},
             {"LIAISON_EVENT", std::string(agent_state_name(state))}});
  if (state == AgentState::kReady) {
    for (asio::steady_timer* waiter : slot.ready_waiters) waiter->cancel();
  }
}

void AgentSupervisor::launch(Slot& slot) {
  slot.token = make_agent_token();
  slot.connection.reset();
  slot.launched_at = std::chrono::steady_clock::now();
  auto launched = launcher_.launch(slot.session, slot.token);
  if (!launched) {
    log::error(fmt::format("cannot start the agent for session {}: {}", slot.session.id,
                           launched.error()),
               {{"LIAISON_SESSION", slot.session.id}, {"LIAISON_EVENT", "launch-failed"}});
    slot.token.clear();
    ++slot.consecutive_failures;
    schedule_relaunch(slot);
    return;
  }
  slot.process = std::move(*launched);
  set_state(slot, AgentState::kStarting);
  log::debug(fmt::format("started agent pid {} for session {}", slot.process.pid, slot.session.id),
             {{"LIAISON_SESSION", slot.session.id},
              {"LIAISON_AGENT_PID", std::to_string(slot.process.pid)}});
  watch_exit(slot);
}

void AgentSupervisor::watch_exit(Slot& slot) {
  if (!slot.process.exit_fd) return;
  // The watch owns a duplicate, so the launcher keeps the original for reaping and signalling.
  slot.exit_watch = std::make_unique<asio::posix::stream_descriptor>(
      io_, ::dup(slot.process.exit_fd.get()));
  slot.exit_watch->async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, id = slot.session.id, pid = slot.process.pid](const std::error_code& error) {
        if (error) return;  // cancelled: the slot went away
        auto found = slots_.find(id);
        if (found == slots_.end() || found->second->process.pid != pid) return;
        auto status = launcher_.reap(found->second->process);
        on_exit(id, status.value_or(0));
      });
}

void AgentSupervisor::on_exit(const std::string& session_id, int exit_status) {
  Slot& slot = *slots_.at(session_id);
  log::info(fmt::format("agent pid {} for session {} {}", slot.process.pid, session_id,
                        describe_exit(exit_status)),
            {{"LIAISON_SESSION", session_id},
             {"LIAISON_AGENT_PID", std::to_string(slot.process.pid)},
             {"LIAISON_EVENT", "agent-exited"}});
  slot.exit_watch.reset();
  slot.process = {};
  if (slot.connection) slot.connection->close();
  slot.connection.reset();
  slot.token.clear();
  if (!slot.wanted) {
    remove_slot(session_id);
    return;
  }
  const auto ran_for = std::chrono::steady_clock::now() - slot.launched_at;
  if (ran_for >= backoff_.healthy_after) slot.consecutive_failures = 0;
  ++slot.consecutive_failures;
  schedule_relaunch(slot);
}

void AgentSupervisor::schedule_relaunch(Slot& slot) {
  set_state(slot, AgentState::kBackoff);
  slot.timer.expires_after(backoff_.delay_after(slot.consecutive_failures));
  slot.timer.async_wait([this, id = slot.session.id](const std::error_code& error) {
    if (error) return;
    auto found = slots_.find(id);
    if (found != slots_.end() && found->second->wanted) launch(*found->second);
  });
}

void AgentSupervisor::begin_stop(Slot& slot) {
  slot.wanted = false;
  slot.timer.cancel();
  if (!slot.process.exit_fd && slot.process.pid == 0) {
    remove_slot(slot.session.id);  // nothing running (backoff): nothing to wait for
    return;
  }
  set_state(slot, AgentState::kStopping);
  if (slot.connection) slot.connection->notify("shutdown", Json::object());
  escalate_stop(slot.session.id, SIGTERM, stop_.terminate_after);
}

void AgentSupervisor::escalate_stop(const std::string& session_id, int signal,
                                    std::chrono::milliseconds wait) {
  Slot& slot = *slots_.at(session_id);
  slot.timer.expires_after(wait);
  slot.timer.async_wait([this, session_id, signal](const std::error_code& error) {
    if (error) return;
    auto found = slots_.find(session_id);
    if (found == slots_.end()) return;
    Slot& stopping = *found->second;
    log::warning(fmt::format("agent pid {} for session {} did not stop in time: sending {}",
                             stopping.process.pid, session_id, strsignal(signal)),
                 {{"LIAISON_SESSION", session_id}, {"LIAISON_EVENT", "agent-stop-escalated"}});
    launcher_.send_signal(stopping.process, signal);
    if (signal == SIGTERM) escalate_stop(session_id, SIGKILL, stop_.kill_after - stop_.terminate_after);
  });
}

void AgentSupervisor::remove_slot(const std::string& session_id) {
  auto found = slots_.find(session_id);
  if (found == slots_.end()) return;
  set_state(*found->second, AgentState::kStopped);
  for (asio::steady_timer* waiter : found->second->ready_waiters) waiter->cancel();
  slots_.erase(found);
  if (slots_.empty() && all_stopped_) std::exchange(all_stopped_, nullptr)();
}

protocol::Result<Json> AgentSupervisor::accept_hello(
    const std::shared_ptr<protocol::Connection>& connection, const PeerCredentials& peer,
    const Json& params) {
  const std::string session_id = params.value("session", "");
  const std::string token = params.value("token", "");
  auto found = slots_.find(session_id);
  if (found == slots_.end() || !found->second->wanted) {
    return std::unexpected(refused(fmt::format("no agent is expected for session \"{}\"", session_id)));
  }
  Slot& slot = *found->second;
  if (peer.uid != slot.session.uid) {
    return std::unexpected(refused(fmt::format("uid {} is not the user of session {}", peer.uid, session_id)));
  }
  if (slot.connection && slot.connection->is_open()) {
    return std::unexpected(refused(fmt::format("session {} already has its agent", session_id)));
  }
  if (slot.process.pid != 0 && peer.pid != slot.process.pid) {
    return std::unexpected(refused(
        fmt::format("pid {} is not the agent launched for session {}", peer.pid, session_id)));
  }
  if (!tokens_match(slot.token, token)) {
    return std::unexpected(refused("wrong, reused or expired token"));
  }
  slot.token = make_agent_token();  // single use: the next hello needs this one
  slot.connection = connection;
  slot.consecutive_failures = std::min(slot.consecutive_failures, 1);
  set_state(slot, AgentState::kReady);
  return Json{{"session", session_id}, {"next_token", slot.token}};
}

void AgentSupervisor::agent_disconnected(const std::shared_ptr<protocol::Connection>& connection) {
  for (auto& [id, slot] : slots_) {
    if (slot->connection != connection) continue;
    slot->connection.reset();
    if (slot->state == AgentState::kReady) set_state(*slot, AgentState::kStarting);
  }
}

asio::awaitable<std::shared_ptr<protocol::Connection>> AgentSupervisor::ready_connection(
    std::string session_id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(io_);
  for (;;) {
    auto found = slots_.find(session_id);
    if (found == slots_.end() || !found->second->wanted) co_return nullptr;
    Slot& slot = *found->second;
    if (slot.state == AgentState::kReady && slot.connection) co_return slot.connection;
    if (std::chrono::steady_clock::now() >= deadline) co_return nullptr;
    slot.ready_waiters.push_back(&timer);
    timer.expires_at(deadline);
    co_await timer.async_wait(kNoThrow);
    // The slot may be gone by now: look it up again rather than touch `slot`.
    if (auto again = slots_.find(session_id); again != slots_.end()) {
      std::erase(again->second->ready_waiters, &timer);
    }
  }
}

std::vector<AgentView> AgentSupervisor::agents() const {
  std::vector<AgentView> views;
  for (const auto& [id, slot] : slots_) {
    views.push_back({slot->session, slot->state, slot->process.pid, launcher_.strategy(),
                     slot->since});
  }
  return views;
}

void AgentSupervisor::stop_all(std::function<void()> done) {
  all_stopped_ = std::move(done);
  std::vector<std::string> ids;
  for (const auto& [id, slot] : slots_) ids.push_back(id);
  for (const std::string& id : ids) {
    auto found = slots_.find(id);
    if (found != slots_.end() && found->second->state != AgentState::kStopping) {
      begin_stop(*found->second);
    }
  }
  if (slots_.empty() && all_stopped_) std::exchange(all_stopped_, nullptr)();
}

}  // namespace liaison::daemon
