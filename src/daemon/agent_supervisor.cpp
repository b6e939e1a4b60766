#include "daemon/agent_supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "common/log.h"
#include "daemon/agent_token.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

std::string describe_exit(int status) {
  if (WIFEXITED(status)) {
    return fmt::format("exited with status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {}", WTERMSIG(status));
  }
  return fmt::format("ended (wait status {})", status);
}

Error refused(std::string message) {
  return Error::application(protocol::codes::kNotPermitted, std::move(message));
}

// Whether `token` is one of `digests`, looking at every digest in constant time.
bool matches_any(const std::vector<std::string>& digests, const std::string& token) {
  if (token.empty()) {
    return false;
  }
  const std::string presented = token_digest(token);
  bool matched = false;
  for (const std::string& digest : digests) {
    matched |= tokens_match(digest, presented);
  }
  return matched;
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
  for (int i = 1; i < consecutive_failures && delay < cap; ++i) {
    delay *= 2;
  }
  return std::min(delay, cap);
}

struct AgentSupervisor::Slot {
  Slot(asio::io_context& io, std::string agent_id, std::vector<Session> served)
      : id(std::move(agent_id)), sessions(std::move(served)), timer(io) {}

  uid_t uid() const { return sessions.front().uid; }
  // A launch still under way counts: what it starts is this slot's to watch or stop.
  bool running() const { return launching || has_process(); }
  bool has_process() const { return process.pid != 0 || process.exit_fd.valid(); }
  bool connected() const { return connection && connection->is_open(); }

  std::string id;
  std::vector<Session> sessions;  // never empty: the last ones it served while it stops
  AgentState state = AgentState::kStarting;
  std::chrono::system_clock::time_point since = std::chrono::system_clock::now();
  LaunchedAgent process;
  uint64_t start_time = 0;  // of `process`, when a ProcessInspector told it
  std::unique_ptr<asio::posix::stream_descriptor> exit_watch;
  // Digests of the tokens the next hello may present (session scope); never the tokens.
  std::vector<std::string> token_digests;
  std::shared_ptr<protocol::Connection> connection;
  asio::steady_timer timer;  // pending backoff, stop escalation or adoption wait
  int consecutive_failures = 0;
  std::string last_failure;  // for `liaison doctor`: why the streak of failures goes on
  std::chrono::steady_clock::time_point launched_at = std::chrono::steady_clock::now();
  bool wanted = true;      // false once its sessions are gone: it is being stopped for good
  bool parked = false;     // the strategy runs no agent for this user now (listed as stopped)
  bool adopting = false;   // waiting for the previous daemon's agent to say hello again
  bool our_child = false;  // launched by this daemon as its child: its exit status is ours to read
  bool launching = false;  // a launch runs off the loop (OffLoop); on_launched ends it
  uint64_t launch_attempt = 0;
  std::vector<asio::steady_timer*> ready_waiters;
};

struct AgentSupervisor::PendingAdoption {
  AdoptionRecord record;
  UniqueFd watch;
  // It runs a binary that has since been replaced (an upgrade): it is to be replaced too.
  bool outdated = false;
};

namespace {

// "session 3 of alice" or "alice (uid 1001)", for log lines.
std::string describe_sessions(const std::vector<Session>& sessions, AgentScope scope) {
  const Session& first = sessions.front();
  if (scope == AgentScope::kSession) {
    return fmt::format("session {} of {}", first.id, first.user);
  }
  return fmt::format("{} (uid {})", first.user, first.uid);
}

}  // namespace

AgentSupervisor::AgentSupervisor(asio::io_context& io, AgentLauncher& launcher,
                                 AdoptionOptions adoption, BackoffPolicy backoff, StopPolicy stop)
    : io_(io),
      launcher_(launcher),
      adoption_(std::move(adoption)),
      records_(adoption_.processes != nullptr ? adoption_.records_directory : std::string()),
      backoff_(backoff),
      stop_(stop) {}

AgentSupervisor::~AgentSupervisor() = default;

std::string AgentSupervisor::agent_id_for(const Session& session) const {
  if (launcher_.scope() == AgentScope::kSession) {
    return session.id;
  }
  return fmt::format("user-{}", session.uid);
}

AgentSupervisor::Slot* AgentSupervisor::slot_serving(const std::string& session_id) const {
  for (const auto& [id, slot] : slots_) {
    for (const Session& session : slot->sessions) {
      if (session.id == session_id) {
        return slot.get();
      }
    }
  }
  return nullptr;
}

// ---- sessions in, agents out ------------------------------------------------------------------

void AgentSupervisor::reconcile(const std::vector<Session>& eligible) {
  last_eligible_ = eligible;
  const bool first = !resumed_;
  if (first) {
    resume();
  }
  std::map<std::string, std::vector<Session>> wanted;
  for (const Session& session : eligible) {
    wanted[agent_id_for(session)].push_back(session);
  }
  for (auto& [id, sessions] : wanted) {
    retire_other_strategies_once(sessions.front().uid);
    auto found = slots_.find(id);
    if (found == slots_.end()) {
      start_slot(id, std::move(sessions));
      continue;
    }
    Slot& slot = *found->second;
    // One still stopping is replaced once it is gone (on_exit reconsiders).
    if (!slot.wanted) {
      continue;
    }
    slot.sessions = std::move(sessions);  // e.g. active -> online, or a second login of the user
    apply_availability(slot);
  }
  std::vector<std::string> gone;
  for (const auto& [id, slot] : slots_) {
    if (slot->wanted && !wanted.contains(id)) {
      gone.push_back(id);
    }
  }
  for (const std::string& id : gone) {
    begin_stop(*slots_.at(id));
  }
  if (first) {
    retire_unclaimed_adoptions();
  }
}

void AgentSupervisor::reconsider() {
  if (stopping_all_ || handing_over_) {
    return;
  }
  std::vector<Session> sessions = last_eligible_;
  reconcile(sessions);
}

void AgentSupervisor::start_slot(const std::string& id, std::vector<Session> sessions) {
  auto [added, inserted] = slots_.emplace(id, std::make_unique<Slot>(io_, id, std::move(sessions)));
  Slot& slot = *added->second;
  if (auto pending = pending_adoptions_.find(id); pending != pending_adoptions_.end()) {
    PendingAdoption adoption = std::move(pending->second);
    pending_adoptions_.erase(pending);
    adopt(slot, std::move(adoption));
    return;
  }
  const std::string reason = launcher_.why_no_agent_for(slot.sessions.front());
  if (!reason.empty()) {
    slot.parked = true;
    log::info(fmt::format("no agent for {}: {}",
                          describe_sessions(slot.sessions, launcher_.scope()), reason),
              {{"LIAISON_UID", std::to_string(slot.uid())}, {"LIAISON_EVENT", "agent-not-wanted"}});
    set_state(slot, AgentState::kStopped);
    return;
  }
  launch(slot);
}

void AgentSupervisor::apply_availability(Slot& slot) {
  const std::string reason = launcher_.why_no_agent_for(slot.sessions.front());
  if (!reason.empty() && !slot.parked) {
    slot.parked = true;
    log::info(fmt::format("stopping the agent of {}: {}",
                          describe_sessions(slot.sessions, launcher_.scope()), reason),
              {{"LIAISON_UID", std::to_string(slot.uid())}, {"LIAISON_EVENT", "agent-not-wanted"}});
    slot.timer.cancel();
    if (slot.running()) {
      stop_process(slot);
    } else {
      set_state(slot, AgentState::kStopped);
    }
  } else if (reason.empty() && slot.parked) {
    slot.parked = false;
    slot.consecutive_failures = 0;
    // Still stopping: on_exit relaunches it.
    if (!slot.running()) {
      launch(slot);
    }
  }
}

void AgentSupervisor::set_state(Slot& slot, AgentState state) {
  if (slot.state == state) {
    return;
  }
  slot.state = state;
  slot.since = std::chrono::system_clock::now();
  // Once per transition, never per attempt: a crash loop is one "backoff" line, not a flood
  // (an agent relaunched from backoff stays in backoff until it says hello).
  log::info(fmt::format("agent for {} is {}", describe_sessions(slot.sessions, launcher_.scope()),
                        agent_state_name(state)),
            {{"LIAISON_SESSION", slot.sessions.front().id},
             {"LIAISON_UID", std::to_string(slot.uid())},
             {"LIAISON_AGENT_PID", std::to_string(slot.process.pid)},
             {"LIAISON_EVENT", std::string(agent_state_name(state))}});
  if (state == AgentState::kReady) {
    for (asio::steady_timer* waiter : slot.ready_waiters) {
      waiter->cancel();
    }
  }
}

// ---- launching, exits and backoff -------------------------------------------------------------

void AgentSupervisor::launch(Slot& slot) {
  std::string token;
  if (launcher_.scope() == AgentScope::kSession) {
    token = make_agent_token();
  }
  slot.connection.reset();
  slot.launched_at = std::chrono::steady_clock::now();
  // Known before the launch returns: an agent quick to say hello is recognised by its token.
  slot.token_digests.clear();
  if (!token.empty()) {
    slot.token_digests.push_back(token_digest(token));
  }
  if (!launcher_.may_block()) {
    finish_launch(slot, launcher_.launch(slot.sessions.front(), token));
    return;
  }
  // The launch may wait on the user's own service manager, which the user can stall: it runs
  // off the loop, and only this slot waits for it.
  slot.launching = true;
  const uint64_t attempt = ++slot.launch_attempt;
  if (slot.state != AgentState::kBackoff) {
    set_state(slot, AgentState::kStarting);
  }
  off_loop_.run<LaunchResult>([&launcher = launcher_, session = slot.sessions.front(),
                               token] { return launcher.launch(session, token); },
                              [this, id = slot.id, attempt](LaunchResult launched) {
                                on_launched(id, attempt, std::move(launched));
                              });
}

// A launch that ran off the loop has ended. Its slot is still there (a launching slot counts as
// running, so nothing removes it); if its sessions went meanwhile, what started is stopped.
void AgentSupervisor::on_launched(const std::string& id, uint64_t attempt, LaunchResult launched) {
  auto found = slots_.find(id);
  if (found == slots_.end() || !found->second->launching ||
      found->second->launch_attempt != attempt) {
    log::warning(fmt::format("a launch for {} ended after its agent was forgotten", id));
    return;
  }
  Slot& slot = *found->second;
  slot.launching = false;
  finish_launch(slot, std::move(launched));
  if (slot.wanted && !slot.parked) {
    return;
  }
  slot.timer.cancel();  // no relaunch for a slot that is going
  if (slot.has_process()) {
    stop_process(slot);
  } else if (!slot.wanted) {
    remove_slot(slot.id);
  } else {
    set_state(slot, AgentState::kStopped);
  }
}

void AgentSupervisor::finish_launch(Slot& slot, LaunchResult launched) {
  // A hello may have come before the launch's answer (both reach the loop on their own): a
  // session agent was known by its token and leaves its handle to this launch; a user agent
  // brought a handle of its own, proven by its unit.
  const bool hello_came_first = slot.connected();
  if (!launched) {
    if (!hello_came_first) {
      launch_failed(slot, launched.error(), "launch-failed");
    }
    return;
  }
  if (launcher_.scope() == AgentScope::kUser) {
    if (auto proven = verify_launched(*launched); !proven) {
      // Never adopted, so never signalled: its handle closes with `launched`.
      if (!hello_came_first) {
        launch_failed(slot,
                      fmt::format("the user's service manager names pid {} as the agent, but {}",
                                  launched->pid, proven.error()),
                      "launch-refused");
      }
      return;
    }
  }
  if (slot.has_process()) {
    return;  // its hello came first with the same process, watched already
  }
  slot.process = std::move(*launched);
  slot.our_child = launcher_.scope() == AgentScope::kSession;
  slot.start_time = 0;
  if (adoption_.processes != nullptr) {
    if (auto facts = adoption_.processes->facts_of(slot.process.pid)) {
      slot.start_time = facts->start_time;
    }
  }
  if (!hello_came_first && slot.state != AgentState::kBackoff) {
    set_state(slot, AgentState::kStarting);
  }
  log::debug(fmt::format("agent pid {} for {} started", slot.process.pid,
                         describe_sessions(slot.sessions, launcher_.scope())),
             {{"LIAISON_SESSION", slot.sessions.front().id},
              {"LIAISON_AGENT_PID", std::to_string(slot.process.pid)}});
  watch_exit(slot);
  save_record(slot, slot.token_digests);
}

// Through the launcher; off the loop where that may wait on the user's service manager. The call
// gets a handle of its own, so the slot may close its handle meanwhile.
void AgentSupervisor::signal_agent(const LaunchedAgent& agent, int signal) {
  if (!launcher_.may_block()) {
    launcher_.send_signal(agent, signal);
    return;
  }
  auto copy = std::make_shared<LaunchedAgent>();
  copy->pid = agent.pid;
  copy->uid = agent.uid;
  if (agent.exit_fd) {
    copy->exit_fd = UniqueFd(::fcntl(agent.exit_fd.get(), F_DUPFD_CLOEXEC, 0));
  }
  off_loop_.run<int>(
      [&launcher = launcher_, copy, signal] {
        launcher.send_signal(*copy, signal);
        return 0;
      },
      [](int) {});
}

// Said once per streak of failures; the retries of a streak are debug lines. A refused launch
// (a user's service manager naming a process that is not our agent) is an attack or a broken
// manager: said every time, at most once per backoff delay. The pid is that of a child that
// failed before execve, when there was one.
void AgentSupervisor::log_cannot_start(const Slot& slot, const std::string& reason,
                                       std::string_view event, pid_t pid) const {
  const bool refused = event == "launch-refused";
  const auto level = slot.consecutive_failures == 0 ? log::Level::kError
                     : refused                      ? log::Level::kWarning
                                                    : log::Level::kDebug;
  const std::string message =
      fmt::format("cannot start the agent for {}: {}",
                  describe_sessions(slot.sessions, launcher_.scope()), reason);
  if (pid == 0) {
    log::write(
        level, message,
        {{"LIAISON_SESSION", slot.sessions.front().id}, {"LIAISON_EVENT", std::string(event)}});
  } else {
    log::write(level, message,
               {{"LIAISON_SESSION", slot.sessions.front().id},
                {"LIAISON_AGENT_PID", std::to_string(pid)},
                {"LIAISON_EVENT", std::string(event)}});
  }
}

void AgentSupervisor::launch_failed(Slot& slot, const std::string& reason, std::string_view event) {
  log_cannot_start(slot, reason, event, 0);
  slot.token_digests.clear();
  ++slot.consecutive_failures;
  slot.last_failure = fmt::format("cannot start the agent: {}", reason);
  schedule_relaunch(slot);
}

void AgentSupervisor::watch_exit(Slot& slot) {
  slot.exit_watch.reset();
  if (!slot.process.exit_fd) {
    return;
  }
  // The watch owns a duplicate, so the launcher keeps the original for reaping and signalling.
  slot.exit_watch =
      std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(slot.process.exit_fd.get()));
  slot.exit_watch->async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, id = slot.id, pid = slot.process.pid](const std::error_code& error) {
        if (error) {
          return;  // cancelled: the slot went away
        }
        auto found = slots_.find(id);
        if (found == slots_.end() || found->second->process.pid != pid) {
          return;
        }
        auto status = launcher_.reap(found->second->process);
        on_exit(id, status.value_or(0));
      });
}

void AgentSupervisor::on_exit(const std::string& id, int exit_status) {
  Slot& slot = *slots_.at(id);
  // Another process's child (a user's service manager's, or a previous daemon's) ends without
  // telling us how.
  std::string how = slot.our_child ? describe_exit(exit_status) : "ended";
  const std::string start_failure =
      slot.our_child && slot.process.start_failure ? slot.process.start_failure() : "";
  if (!start_failure.empty()) {
    // It never became the agent: a step between fork and execve failed.
    log_cannot_start(slot, start_failure, "launch-failed", slot.process.pid);
    how = "could not start: " + start_failure;
  } else {
    log::info(fmt::format("agent pid {} for {} {}", slot.process.pid,
                          describe_sessions(slot.sessions, launcher_.scope()), how),
              {{"LIAISON_SESSION", slot.sessions.front().id},
               {"LIAISON_AGENT_PID", std::to_string(slot.process.pid)},
               {"LIAISON_EVENT", "agent-exited"}});
  }
  slot.exit_watch.reset();
  slot.process = {};
  slot.our_child = false;
  slot.start_time = 0;
  if (slot.connection) {
    slot.connection->close();
  }
  slot.connection.reset();
  slot.token_digests.clear();
  records_.remove(id);
  if (!slot.wanted) {
    remove_slot(id);
    reconsider();  // its user may have logged in again meanwhile
    return;
  }
  slot.timer.cancel();
  if (slot.parked) {
    set_state(slot, AgentState::kStopped);
    return;
  }
  if (slot.adopting) {
    slot.adopting = false;
    launch(slot);  // the previous daemon's agent is gone: its replacement starts at once
    return;
  }
  const auto ran_for = std::chrono::steady_clock::now() - slot.launched_at;
  if (ran_for >= backoff_.healthy_after) {
    slot.consecutive_failures = 0;
  }
  ++slot.consecutive_failures;
  slot.last_failure =
      start_failure.empty()
          ? fmt::format("the agent {} after {} ms", how,
                        std::chrono::duration_cast<std::chrono::milliseconds>(ran_for).count())
          : fmt::format("cannot start the agent: {}", start_failure);
  schedule_relaunch(slot);
}

void AgentSupervisor::schedule_relaunch(Slot& slot) {
  set_state(slot, AgentState::kBackoff);
  const auto delay = backoff_.delay_after(slot.consecutive_failures);
  log::debug(fmt::format("relaunching the agent for {} in {} ms (failure {})",
                         describe_sessions(slot.sessions, launcher_.scope()), delay.count(),
                         slot.consecutive_failures));
  slot.timer.expires_after(delay);
  slot.timer.async_wait([this, id = slot.id](const std::error_code& error) {
    if (error) {
      return;
    }
    auto found = slots_.find(id);
    if (found == slots_.end()) {
      return;
    }
    Slot& due = *found->second;
    // A user's service manager may have restarted the agent on its own meanwhile.
    if (!due.wanted || due.parked || due.running() || due.connected()) {
      return;
    }
    launch(due);
  });
}

// ---- stopping ---------------------------------------------------------------------------------

void AgentSupervisor::stop_process(Slot& slot) {
  slot.timer.cancel();
  slot.adopting = false;
  set_state(slot, AgentState::kStopping);
  if (!slot.has_process()) {
    return;  // a launch under way: on_launched stops what it started
  }
  if (slot.connected()) {
    slot.connection->notify("shutdown", Json::object());
    escalate_stop(slot.id, SIGTERM, stop_.terminate_after);
    return;
  }
  // Nobody to ask: terminate it now, kill it if that is not enough.
  signal_agent(slot.process, SIGTERM);
  escalate_stop(slot.id, SIGKILL, stop_.kill_after);
}

void AgentSupervisor::begin_stop(Slot& slot) {
  slot.wanted = false;
  if (slot.state == AgentState::kStopping) {
    return;  // already on its way (parked)
  }
  slot.timer.cancel();
  if (!slot.running()) {
    remove_slot(slot.id);  // nothing running (backoff, parked): nothing to wait for
    return;
  }
  stop_process(slot);
}

void AgentSupervisor::escalate_stop(const std::string& id, int signal,
                                    std::chrono::milliseconds wait) {
  Slot& slot = *slots_.at(id);
  slot.timer.expires_after(wait);
  slot.timer.async_wait([this, id, signal](const std::error_code& error) {
    if (error) {
      return;
    }
    auto found = slots_.find(id);
    if (found == slots_.end()) {
      return;
    }
    Slot& stopping = *found->second;
    log::warning(
        fmt::format("agent pid {} for {} did not stop in time: sending {}", stopping.process.pid,
                    describe_sessions(stopping.sessions, launcher_.scope()), strsignal(signal)),
        {{"LIAISON_SESSION", stopping.sessions.front().id},
         {"LIAISON_EVENT", "agent-stop-escalated"}});
    signal_agent(stopping.process, signal);
    if (signal == SIGTERM) {
      escalate_stop(id, SIGKILL, stop_.kill_after - stop_.terminate_after);
    }
  });
}

void AgentSupervisor::remove_slot(const std::string& id) {
  auto found = slots_.find(id);
  if (found == slots_.end()) {
    return;
  }
  set_state(*found->second, AgentState::kStopped);
  for (asio::steady_timer* waiter : found->second->ready_waiters) {
    waiter->cancel();
  }
  records_.remove(id);
  slots_.erase(found);
  if (slots_.empty() && all_stopped_) {
    std::exchange(all_stopped_, nullptr)();
  }
}

void AgentSupervisor::stop_all(std::function<void()> done) {
  stopping_all_ = true;
  all_stopped_ = std::move(done);
  std::vector<std::string> ids;
  ids.reserve(slots_.size());
  for (const auto& [id, slot] : slots_) {
    ids.push_back(id);
  }
  for (const std::string& id : ids) {
    auto found = slots_.find(id);
    if (found != slots_.end()) {
      begin_stop(*found->second);
    }
  }
  // Agents a previous daemon left for sessions nobody claimed yet: stop them too.
  retire_unclaimed_adoptions();
  if (slots_.empty() && all_stopped_) {
    std::exchange(all_stopped_, nullptr)();
  }
}

void AgentSupervisor::hand_over() {
  handing_over_ = true;
  for (auto& [id, slot] : slots_) {
    slot->timer.cancel();
  }
  log::info(fmt::format("leaving {} agent(s) running for the next daemon", slots_.size()),
            {{"LIAISON_EVENT", "agents-handed-over"}});
}

// ---- adoption across daemon restarts ----------------------------------------------------------

void AgentSupervisor::save_record(const Slot& slot, std::vector<std::string> digests) const {
  if (!records_.enabled() || launcher_.scope() != AgentScope::kSession || slot.process.pid == 0) {
    return;
  }
  AdoptionRecord record{.agent_id = slot.id,
                        .strategy = launcher_.strategy(),
                        .uid = slot.uid(),
                        .pid = slot.process.pid,
                        .start_time = slot.start_time,
                        .token_digests = std::move(digests)};
  if (auto saved = records_.save(record); !saved) {
    log::warning(
        fmt::format("cannot record the agent of session {} for the next daemon (a "
                    "restart will replace it): {}",
                    slot.id, saved.error()));
  }
}

void AgentSupervisor::resume() {
  resumed_ = true;
  if (!records_.enabled()) {
    return;
  }
  const ProcessInspector& processes = *adoption_.processes;
  for (AdoptionRecord& record : records_.load_all()) {
    // The handle first, then the facts: if they match, the handle is bound to that process.
    auto watch = processes.watch(record.pid);
    auto facts = watch ? processes.facts_of(record.pid) : std::unexpected(watch.error());
    if (!facts || facts->start_time != record.start_time || facts->uid != record.uid) {
      log::debug(fmt::format("the recorded agent pid {} of session {} is gone", record.pid,
                             record.agent_id));
      records_.remove(record.agent_id);
      continue;
    }
    if (record.strategy != launcher_.strategy() || launcher_.scope() != AgentScope::kSession) {
      log::info(fmt::format("stopping agent pid {} of session {}: it was started with [agent] "
                            "launch = \"{}\", which is now \"{}\"",
                            record.pid, record.agent_id, record.strategy, launcher_.strategy()),
                {{"LIAISON_SESSION", record.agent_id}, {"LIAISON_EVENT", "agent-retired"}});
      processes.signal(*watch, SIGTERM);
      records_.remove(record.agent_id);
      continue;
    }
    const std::string id = record.agent_id;
    const bool outdated = facts->executable.ends_with(" (deleted)");
    pending_adoptions_.emplace(id, PendingAdoption{std::move(record), std::move(*watch), outdated});
  }
}

void AgentSupervisor::adopt(Slot& slot, PendingAdoption adoption) {
  const AdoptionRecord& record = adoption.record;
  slot.process =
      LaunchedAgent{.pid = record.pid, .uid = record.uid, .exit_fd = std::move(adoption.watch)};
  slot.start_time = record.start_time;
  slot.token_digests = record.token_digests;
  slot.adopting = true;
  log::info(fmt::format("waiting for agent pid {} of {} to come back", record.pid,
                        describe_sessions(slot.sessions, launcher_.scope())),
            {{"LIAISON_SESSION", slot.id},
             {"LIAISON_AGENT_PID", std::to_string(record.pid)},
             {"LIAISON_EVENT", "agent-adopting"}});
  watch_exit(slot);
  if (adoption.outdated) {
    // After an upgrade: the old agent leaves (its hello is refused meanwhile) and its exit
    // launches one of the new binary, so there are never two.
    log::info(fmt::format("agent pid {} of session {} runs a binary that was replaced since: "
                          "replacing the agent",
                          record.pid, slot.id),
              {{"LIAISON_SESSION", slot.id}, {"LIAISON_EVENT", "agent-outdated"}});
    slot.token_digests.clear();
    signal_agent(slot.process, SIGTERM);
  }
  slot.timer.expires_after(adoption_.wait);
  slot.timer.async_wait([this, id = slot.id](const std::error_code& error) {
    if (error) {
      return;
    }
    auto found = slots_.find(id);
    if (found == slots_.end() || !found->second->adopting) {
      return;
    }
    Slot& late = *found->second;
    log::warning(fmt::format("agent pid {} of session {} did not come back within {} ms: "
                             "replacing it",
                             late.process.pid, id, adoption_.wait.count()),
                 {{"LIAISON_SESSION", id}, {"LIAISON_EVENT", "agent-not-adopted"}});
    // Its exit (the watch turning readable) launches the replacement: never two at once.
    signal_agent(late.process, SIGKILL);
  });
}

void AgentSupervisor::retire_unclaimed_adoptions() {
  for (auto& [id, adoption] : pending_adoptions_) {
    log::info(fmt::format("stopping agent pid {}: its session {} ended while the daemon was away",
                          adoption.record.pid, id),
              {{"LIAISON_SESSION", id}, {"LIAISON_EVENT", "agent-retired"}});
    adoption_.processes->signal(adoption.watch, SIGTERM);
    records_.remove(id);
  }
  pending_adoptions_.clear();
}

void AgentSupervisor::retire_other_strategies_once(uid_t uid) {
  if (!retired_for_.insert(uid).second) {
    return;
  }
  if (!launcher_.may_block()) {
    launcher_.retire_other_strategies(uid);
    return;
  }
  off_loop_.run<int>(
      [&launcher = launcher_, uid] {
        launcher.retire_other_strategies(uid);
        return 0;
      },
      [](int) {});
}

// ---- hellos -----------------------------------------------------------------------------------

protocol::Result<Json> AgentSupervisor::accept_hello(
    const std::shared_ptr<protocol::Connection>& connection, const PeerCredentials& peer,
    const Json& params) {
  auto session = params.find("session");
  if (session == params.end() || session->is_null()) {
    return accept_user_hello(connection, peer);
  }
  if (!session->is_string()) {
    return std::unexpected(Error::invalid_params("session must be a string"));
  }
  const auto token = params.find("token");
  return accept_session_hello(
      connection, peer, session->get<std::string>(),
      token != params.end() && token->is_string() ? token->get<std::string>() : "");
}

protocol::Result<Json> AgentSupervisor::accept_session_hello(
    const std::shared_ptr<protocol::Connection>& connection, const PeerCredentials& peer,
    const std::string& session_id, const std::string& token) {
  if (launcher_.scope() != AgentScope::kSession) {
    return std::unexpected(refused(fmt::format(
        "[agent] launch = \"{}\" runs one agent per user: session agents are not expected",
        launcher_.strategy())));
  }
  auto found = slots_.find(session_id);
  if (found == slots_.end() || !found->second->wanted || found->second->parked) {
    return std::unexpected(
        refused(fmt::format("no agent is expected for session \"{}\"", session_id)));
  }
  Slot& slot = *found->second;
  if (peer.uid != slot.uid()) {
    return std::unexpected(
        refused(fmt::format("uid {} is not the user of session {}", peer.uid, session_id)));
  }
  if (slot.connected()) {
    return std::unexpected(refused(fmt::format("session {} already has its agent", session_id)));
  }
  if (slot.process.pid != 0 && peer.pid != slot.process.pid) {
    return std::unexpected(refused(
        fmt::format("pid {} is not the agent launched for session {}", peer.pid, session_id)));
  }
  if (!matches_any(slot.token_digests, token)) {
    return std::unexpected(refused("wrong, reused or expired token"));
  }
  if (slot.adopting) {
    // The pid was the recorded process when this daemon started; make sure it still is.
    auto facts = adoption_.processes->facts_of(peer.pid);
    if (!facts || facts->start_time != slot.start_time) {
      return std::unexpected(refused(fmt::format("pid {} is not the recorded agent", peer.pid)));
    }
  }
  const std::string presented = token_digest(token);
  const std::string next_token = make_agent_token();
  slot.token_digests = {token_digest(next_token)};  // single use: the next hello needs the new one
  slot.connection = connection;
  slot.adopting = false;
  slot.timer.cancel();
  set_state(slot, AgentState::kReady);
  // Recorded with the token it presented too: if this answer never reaches it (the daemon dies
  // first), the next daemon still knows it.
  save_record(slot, {slot.token_digests.front(), presented});
  return Json{{"session", session_id}, {"next_token", next_token}};
}

std::expected<void, std::string> AgentSupervisor::verify_unit_identity(
    const PeerCredentials& peer) const {
  auto identity = launcher_.unit_identity();
  if (!identity || adoption_.processes == nullptr) {
    return std::unexpected("this daemon cannot verify agents by their unit");
  }
  auto facts = adoption_.processes->facts_of(peer.pid);
  if (!facts) {
    return std::unexpected(fmt::format("pid {}: {}", peer.pid, facts.error()));
  }
  if (facts->uid != peer.uid || !facts->in_user_manager || facts->manager_uid != peer.uid) {
    return std::unexpected(
        fmt::format("pid {} does not run in the service manager of uid {}", peer.pid, peer.uid));
  }
  if (facts->user_unit != identity->unit) {
    return std::unexpected(fmt::format("pid {} runs under unit \"{}\", not {}", peer.pid,
                                       facts->user_unit, identity->unit));
  }
  if (facts->executable != identity->executable) {
    return std::unexpected(
        fmt::format("pid {} runs {}, not {}", peer.pid, facts->executable, identity->executable));
  }
  return {};
}

// A user-scope launch's pid comes from the user's own service manager, which the user can
// impersonate (they own the directory of its socket, and can serve D-Bus there themselves): it
// is adopted, and so ever signalled, only once the process behind the handle the launcher opened
// is proven to run as that uid, in that uid's service manager, under our unit, from our binary.
// The facts are read after the handle was opened, and the handle is checked unexited after, so
// both are about one process (a pid freed in between could have been reused).
std::expected<void, std::string> AgentSupervisor::verify_launched(
    const LaunchedAgent& agent) const {
  if (!agent.exit_fd) {
    return std::unexpected("there is no handle on that process to prove it by");
  }
  if (auto verified = verify_unit_identity({.uid = agent.uid, .pid = agent.pid}); !verified) {
    return verified;
  }
  pollfd exited{.fd = agent.exit_fd.get(), .events = POLLIN, .revents = 0};
  if (::poll(&exited, 1, 0) != 0) {
    return std::unexpected(fmt::format("pid {} ended while it was checked", agent.pid));
  }
  return {};
}

protocol::Result<Json> AgentSupervisor::accept_user_hello(
    const std::shared_ptr<protocol::Connection>& connection, const PeerCredentials& peer) {
  if (launcher_.scope() != AgentScope::kUser) {
    return std::unexpected(refused(fmt::format(
        "[agent] launch = \"{}\" runs one agent per session: the hello must name its session",
        launcher_.strategy())));
  }
  // The handle first, then the facts: both are then about the same process.
  auto watch = adoption_.processes != nullptr
                   ? adoption_.processes->watch(peer.pid)
                   : std::unexpected(std::string("no process inspector"));
  if (!watch) {
    return std::unexpected(refused(fmt::format("pid {}: {}", peer.pid, watch.error())));
  }
  if (auto verified = verify_unit_identity(peer); !verified) {
    return std::unexpected(refused(verified.error()));
  }
  const std::string id = fmt::format("user-{}", peer.uid);
  auto found = slots_.find(id);
  if (found == slots_.end() || !found->second->wanted || found->second->parked) {
    return std::unexpected(refused(fmt::format("no agent is expected for uid {}", peer.uid)));
  }
  Slot& slot = *found->second;
  if (slot.connected()) {
    return std::unexpected(refused(fmt::format("uid {} already has its agent", peer.uid)));
  }
  if (slot.process.pid != peer.pid) {
    // Its service manager (re)started it (Restart=, a login's graphical-session.target), or a
    // previous daemon did: it is proven by its unit, so it becomes the process watched.
    slot.process = LaunchedAgent{.pid = peer.pid, .uid = peer.uid, .exit_fd = std::move(*watch)};
    watch_exit(slot);
  }
  slot.connection = connection;
  slot.adopting = false;
  slot.timer.cancel();  // a relaunch pending in backoff is moot now
  set_state(slot, AgentState::kReady);
  return Json{{"scope", "user"}, {"uid", peer.uid}};
}

std::string AgentSupervisor::agent_id_of(
    const std::shared_ptr<protocol::Connection>& connection) const {
  for (const auto& [id, slot] : slots_) {
    if (slot->connection == connection) {
      return id;
    }
  }
  return {};
}

void AgentSupervisor::agent_disconnected(const std::shared_ptr<protocol::Connection>& connection) {
  for (auto& [id, slot] : slots_) {
    if (slot->connection != connection) {
      continue;
    }
    slot->connection.reset();
    if (slot->state == AgentState::kReady) {
      set_state(*slot, AgentState::kStarting);
    }
  }
}

// ---- what the control methods see -------------------------------------------------------------

asio::awaitable<std::shared_ptr<protocol::Connection>> AgentSupervisor::ready_connection(
    std::string session_id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(io_);
  for (;;) {
    Slot* slot = slot_serving(session_id);
    if (slot == nullptr || !slot->wanted || slot->parked) {
      co_return nullptr;
    }
    if (slot->state == AgentState::kReady && slot->connected()) {
      co_return slot->connection;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return nullptr;
    }
    slot->ready_waiters.push_back(&timer);
    const std::string id = slot->id;
    timer.expires_at(deadline);
    co_await timer.async_wait(kNoThrow);
    // The slot may be gone by now: look it up again rather than touch `slot`.
    if (auto again = slots_.find(id); again != slots_.end()) {
      std::erase(again->second->ready_waiters, &timer);
    }
  }
}

std::vector<AgentView> AgentSupervisor::agents() const {
  std::vector<AgentView> views;
  for (const auto& [id, slot] : slots_) {
    for (const Session& session : slot->sessions) {
      views.push_back({session, slot->state, slot->process.pid, launcher_.strategy(), slot->since,
                       id, slot->consecutive_failures > 0 ? slot->last_failure : "",
                       slot->consecutive_failures});
    }
  }
  std::sort(views.begin(), views.end(),
            [](const AgentView& a, const AgentView& b) { return a.session.id < b.session.id; });
  return views;
}

}  // namespace liaison::daemon
