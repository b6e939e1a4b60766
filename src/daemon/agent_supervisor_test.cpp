// The supervisor alone, against a fake launcher and a fake process inspector: backoff, stop
// escalation, adoption across a daemon restart, user-scope agents and strategy availability.
#include "daemon/agent_supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/local/connect_pair.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "common/portable_calls.h"
#include "daemon/agent_token.h"
#include "daemon/fake_process_inspector.h"

namespace liaison::daemon {
namespace {

using namespace std::chrono_literals;
using protocol::Connection;
using protocol::Json;

constexpr uid_t kAlice = 1001;
constexpr uid_t kBob = 1002;
constexpr char kAgentUnit[] = "liaison-agent-asuser.service";
constexpr char kAgentBinary[] = "/usr/bin/liaison";

// Makes agents as processes that exist only in the fake inspector; each has a pipe as its exit
// fd, written to when the test (or a signal the test lets through) ends it.
class FakeLauncher final : public AgentLauncher {
 public:
  FakeLauncher(FakeProcessInspector& processes, AgentScope scope, std::string strategy = "exec")
      : processes_(processes), scope_(scope), strategy_(std::move(strategy)) {}

  std::string strategy() const override { return strategy_; }
  AgentScope scope() const override { return scope_; }
  std::optional<UnitIdentity> unit_identity() const override {
    if (scope_ != AgentScope::kUser) {
      return std::nullopt;
    }
    return UnitIdentity{kAgentUnit, kAgentBinary};
  }
  std::string why_no_agent_for(const Session& session) const override {
    return unavailable_.contains(session.uid) ? "not installed for them" : "";
  }

  bool may_block() const override { return may_block_; }

  std::expected<LaunchedAgent, std::string> launch(const Session& session,
                                                   const std::string& token) override {
    std::unique_lock lock(mutex_);
    released_.wait(lock, [&] { return !held_.contains(session.uid); });
    ++launches_[session.uid];
    last_token_ = token;
    if (fail_launches_ > 0) {
      --fail_launches_;
      return std::unexpected("the binary is broken");
    }
    if (named_main_pid_ != 0) {
      const pid_t named = std::exchange(named_main_pid_, 0);
      auto watch = processes_.watch(named);
      if (!watch) {
        return std::unexpected(watch.error());
      }
      return LaunchedAgent{.pid = named, .uid = session.uid, .exit_fd = std::move(*watch)};
    }
    const pid_t pid = next_pid_++;
    processes_.set(pid, facts_for(pid, session.uid));
    int fds[2];
    if (liaison::open_pipe(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      return std::unexpected(std::string("pipe: ") + std::strerror(errno));
    }
    exit_pipes_[pid] = UniqueFd(fds[1]);
    return LaunchedAgent{.pid = pid, .uid = session.uid, .exit_fd = UniqueFd(fds[0])};
  }

  void send_signal(const LaunchedAgent& agent, int signal) override {
    std::lock_guard lock(mutex_);
    signals_.emplace_back(agent.pid, signal);
    if (die_on_signal_) {
      end(agent.pid);
    }
  }
  std::optional<int> reap(const LaunchedAgent&) override { return 0; }

  // The process ends: its exit fd (or, for an adopted one, its watch) turns readable.
  void end(pid_t pid) {
    if (auto pipe = exit_pipes_.find(pid); pipe != exit_pipes_.end()) {
      [[maybe_unused]] ssize_t written = ::write(pipe->second.get(), "x", 1);
    }
    processes_.exit(pid);
  }

  ProcessFacts facts_for(pid_t pid, uid_t uid) const {
    ProcessFacts facts{
        .uid = uid, .start_time = static_cast<uint64_t>(pid) * 10, .executable = kAgentBinary};
    if (scope_ == AgentScope::kUser) {
      facts.in_user_manager = true;
      facts.manager_uid = uid;
      facts.user_unit = kAgentUnit;
    }
    return facts;
  }

  int launches(uid_t uid) {
    std::lock_guard lock(mutex_);
    return launches_[uid];
  }
  int total_launches() const {
    int total = 0;
    for (const auto& [uid, count] : launches_) {
      total += count;
    }
    return total;
  }
  std::string last_token() const {
    std::lock_guard lock(mutex_);
    return last_token_;
  }
  std::vector<std::pair<pid_t, int>> signals() const {
    std::lock_guard lock(mutex_);
    return signals_;
  }
  pid_t last_pid() const {
    std::lock_guard lock(mutex_);
    return next_pid_ - 1;
  }
  void fail_next_launches(int count) { fail_launches_ = count; }
  void set_unavailable(uid_t uid, bool unavailable) {
    if (unavailable) {
      unavailable_.insert(uid);
    } else {
      unavailable_.erase(uid);
    }
  }
  void let_signals_kill(bool kill) { die_on_signal_ = kill; }
  void set_next_pid(pid_t pid) { next_pid_ = pid; }
  // The next launch returns `pid`, whatever it is (the test sets its facts), as a user serving
  // their own D-Bus on their manager's socket can name any process as their unit's MainPID.
  void name_next_main_pid(pid_t pid) { named_main_pid_ = pid; }
  // As the Linux launchers: the supervisor then launches and signals off its loop.
  void set_may_block(bool may_block) { may_block_ = may_block; }
  // Launches for `uid` wait until release(uid), as with a user's service manager that does not
  // answer. Release before the test ends: the supervisor joins its launches when destroyed.
  void hold_launches_of(uid_t uid) {
    std::lock_guard lock(mutex_);
    held_.insert(uid);
  }
  void release(uid_t uid) {
    {
      std::lock_guard lock(mutex_);
      held_.erase(uid);
    }
    released_.notify_all();
  }

 private:
  FakeProcessInspector& processes_;
  AgentScope scope_;
  std::string strategy_;
  pid_t next_pid_ = 4000;
  pid_t named_main_pid_ = 0;
  bool may_block_ = false;
  // Launches and signals may run on the supervisor's OffLoop threads.
  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::set<uid_t> held_;
  std::map<uid_t, int> launches_;
  std::map<pid_t, UniqueFd> exit_pipes_;
  std::vector<std::pair<pid_t, int>> signals_;
  std::set<uid_t> unavailable_;
  std::string last_token_;
  int fail_launches_ = 0;
  bool die_on_signal_ = true;
};

// Both ends of an agent connection: the daemon's (given to the supervisor) and the agent's,
// which records what the daemon sends it.
struct AgentLine {
  std::shared_ptr<Connection> daemon_side;
  std::shared_ptr<Connection> agent_side;
  std::shared_ptr<std::vector<std::string>> received = std::make_shared<std::vector<std::string>>();
};

class SupervisorTest : public testing::Test {
 protected:
  SupervisorTest() {
    records_dir_ = std::filesystem::temp_directory_path() /
                   fmt::format("liaison-supervisor-{}-{}", ::getpid(), counter_++);
  }
  ~SupervisorTest() override {
    supervisor_.reset();
    std::filesystem::remove_all(records_dir_);
  }

  void make_supervisor(AgentScope scope = AgentScope::kSession, std::string strategy = "exec") {
    supervisor_.reset();
    launcher_ = std::make_unique<FakeLauncher>(processes_, scope, std::move(strategy));
    supervisor_ = std::make_unique<AgentSupervisor>(
        io_, *launcher_,
        AdoptionOptions{
            .processes = &processes_, .records_directory = records_dir_.string(), .wait = 300ms},
        BackoffPolicy{.first = 20ms, .cap = 80ms, .healthy_after = 10s},
        StopPolicy{.terminate_after = 100ms, .kill_after = 250ms});
  }

  static Session session(std::string id, uid_t uid, std::string state = "active") {
    return {.id = std::move(id),
            .uid = uid,
            .user = uid == kAlice ? "alice" : "bob",
            .type = "x11",
            .session_class = "user",
            .state = std::move(state),
            .seat = "seat0"};
  }

  void run_for(std::chrono::milliseconds duration) { io_.run_for(duration); }
  void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(2ms);
    }
  }

  AgentLine connect() {
    asio::local::stream_protocol::socket daemon_socket(io_), agent_socket(io_);
    asio::local::connect_pair(daemon_socket, agent_socket);
    AgentLine line{Connection::create(std::move(daemon_socket)),
                   Connection::create(std::move(agent_socket))};
    line.daemon_side->start(nullptr);
    line.agent_side->start(
        [received =
             line.received](protocol::Request request) -> asio::awaitable<protocol::Result<Json>> {
          received->push_back(request.method);
          co_return Json::object();
        });
    return line;
  }

  protocol::Result<Json> hello(const AgentLine& line, uid_t uid, pid_t pid, const Json& params) {
    return supervisor_->accept_hello(line.daemon_side, PeerCredentials{uid, uid, pid, {}}, params);
  }
  protocol::Result<Json> session_hello(const AgentLine& line, const std::string& session_id,
                                       uid_t uid, pid_t pid, const std::string& token) {
    return hello(line, uid, pid, {{"session", session_id}, {"token", token}, {"version", "test"}});
  }

  std::string state_of(const std::string& session_id) const {
    for (const AgentView& view : supervisor_->agents()) {
      if (view.session.id == session_id) {
        return std::string(agent_state_name(view.state));
      }
    }
    return "absent";
  }
  pid_t pid_of(const std::string& session_id) const {
    for (const AgentView& view : supervisor_->agents()) {
      if (view.session.id == session_id) {
        return view.pid;
      }
    }
    return -1;
  }
  int signals_to(pid_t pid, int signal) const {
    int count = 0;
    for (const auto& [to, sent] : launcher_->signals()) {
      count += to == pid && sent == signal;
    }
    for (const auto& [to, sent] : processes_.signals()) {
      count += to == pid && sent == signal;
    }
    return count;
  }

  static inline int counter_ = 0;
  asio::io_context io_;
  std::filesystem::path records_dir_;
  FakeProcessInspector processes_;
  std::unique_ptr<FakeLauncher> launcher_;
  std::unique_ptr<AgentSupervisor> supervisor_;
};

TEST(BackoffPolicyTest, DoublesFromHalfASecondToThirtySeconds) {
  BackoffPolicy policy;
  EXPECT_EQ(policy.delay_after(1), 500ms);
  EXPECT_EQ(policy.delay_after(2), 1000ms);
  EXPECT_EQ(policy.delay_after(3), 2000ms);
  EXPECT_EQ(policy.delay_after(7), 30000ms);  // 32 s, capped
  EXPECT_EQ(policy.delay_after(1000), 30000ms);
  EXPECT_EQ(policy.healthy_after, 60s);
}

TEST_F(SupervisorTest, AHelloWithTheLaunchTokenMakesTheAgentReady) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(state_of("3"), "starting");
  AgentLine line = connect();
  auto accepted = session_hello(line, "3", kAlice, launcher_->last_pid(), launcher_->last_token());
  ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
  EXPECT_EQ(state_of("3"), "ready");
  EXPECT_EQ(supervisor_->agent_id_of(line.daemon_side), "3");
  const std::string next = (*accepted)["next_token"];
  EXPECT_NE(next, launcher_->last_token());
  // The used token is worthless now, even from the same process.
  AgentLine again = connect();
  line.daemon_side->close();
  supervisor_->agent_disconnected(line.daemon_side);
  EXPECT_FALSE(session_hello(again, "3", kAlice, launcher_->last_pid(), launcher_->last_token()));
  EXPECT_TRUE(session_hello(again, "3", kAlice, launcher_->last_pid(), next));
}

TEST_F(SupervisorTest, ACrashLoopStaysInBackoffUntilAnAgentIsReady) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  launcher_->end(launcher_->last_pid());
  run_until([&] { return state_of("3") == "backoff"; });
  EXPECT_EQ(state_of("3"), "backoff");
  // Relaunched after 20 ms, 40 ms, 80 ms, 80 ms: each attempt dies before its hello.
  for (int attempt = 2; attempt <= 4; ++attempt) {
    run_until([&] { return launcher_->launches(kAlice) == attempt; });
    ASSERT_EQ(launcher_->launches(kAlice), attempt);
    EXPECT_EQ(state_of("3"), "backoff") << "a relaunch from backoff is not a new `starting`";
    launcher_->end(launcher_->last_pid());
  }
  run_until([&] { return launcher_->launches(kAlice) == 5; });
  AgentLine line = connect();
  ASSERT_TRUE(session_hello(line, "3", kAlice, launcher_->last_pid(), launcher_->last_token()));
  EXPECT_EQ(state_of("3"), "ready");
}

TEST_F(SupervisorTest, BackoffGrowsAndIsForgivenOnlyAfterAHealthyMinute) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  auto time_to_relaunch = [&] {
    const int before = launcher_->launches(kAlice);
    launcher_->end(launcher_->last_pid());
    const auto start = std::chrono::steady_clock::now();
    run_until([&] { return launcher_->launches(kAlice) == before + 1; });
    return std::chrono::steady_clock::now() - start;
  };
  EXPECT_LT(time_to_relaunch(), 40ms);  // 20 ms
  AgentLine line = connect();
  ASSERT_TRUE(session_hello(line, "3", kAlice, launcher_->last_pid(), launcher_->last_token()));
  // A hello is not a minute of health: the next crash still waits longer.
  EXPECT_GE(time_to_relaunch(), 38ms);  // 40 ms
  EXPECT_GE(time_to_relaunch(), 75ms);  // 80 ms, the cap
}

TEST_F(SupervisorTest, AFailedLaunchIsRetriedWithBackoff) {
  make_supervisor();
  launcher_->fail_next_launches(2);
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(state_of("3"), "backoff");
  EXPECT_EQ(pid_of("3"), 0);
  run_until([&] { return launcher_->launches(kAlice) == 3; });
  EXPECT_EQ(launcher_->launches(kAlice), 3);
  EXPECT_NE(pid_of("3"), 0);
}

TEST_F(SupervisorTest, SessionEndAsksTheAgentThenTerminatesThenKills) {
  make_supervisor();
  launcher_->let_signals_kill(false);
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t pid = launcher_->last_pid();
  AgentLine line = connect();
  ASSERT_TRUE(session_hello(line, "3", kAlice, pid, launcher_->last_token()));
  supervisor_->reconcile({});
  EXPECT_EQ(state_of("3"), "stopping");
  run_until([&] { return !line.received->empty(); });
  EXPECT_EQ(*line.received, std::vector<std::string>{"shutdown"});
  EXPECT_EQ(signals_to(pid, SIGTERM), 0);
  run_until([&] { return signals_to(pid, SIGTERM) == 1; });
  EXPECT_EQ(signals_to(pid, SIGKILL), 0);
  run_until([&] { return signals_to(pid, SIGKILL) == 1; });
  EXPECT_EQ(signals_to(pid, SIGKILL), 1);
  launcher_->end(pid);
  run_until([&] { return state_of("3") == "absent"; });
  EXPECT_EQ(state_of("3"), "absent");
  EXPECT_EQ(launcher_->launches(kAlice), 1) << "a stopped agent is not relaunched";
}

TEST_F(SupervisorTest, AnAgentThatNeverSaidHelloIsTerminatedAtOnce) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t pid = launcher_->last_pid();
  supervisor_->reconcile({});
  EXPECT_EQ(signals_to(pid, SIGTERM), 1);
  run_until([&] { return state_of("3") == "absent"; });
  EXPECT_EQ(state_of("3"), "absent");
}

TEST_F(SupervisorTest, GoingOnlineKeepsTheAgent) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  supervisor_->reconcile({session("3", kAlice, "online")});
  EXPECT_EQ(launcher_->launches(kAlice), 1);
  EXPECT_TRUE(launcher_->signals().empty());
  EXPECT_FALSE(supervisor_->agents().front().session.active());
}

TEST_F(SupervisorTest, SeveralSessionsAndUsersEachGetTheirOwnExecAgent) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice), session("4", kAlice), session("5", kBob)});
  EXPECT_EQ(launcher_->launches(kAlice), 2);
  EXPECT_EQ(launcher_->launches(kBob), 1);
  EXPECT_NE(pid_of("3"), pid_of("4"));
}

TEST_F(SupervisorTest, ALoginDuringTheStopOfTheLastAgentGetsANewOne) {
  make_supervisor();
  launcher_->let_signals_kill(false);
  supervisor_->reconcile({session("3", kAlice)});
  supervisor_->reconcile({});
  supervisor_->reconcile({session("3", kAlice)});  // back before the old one is gone
  EXPECT_EQ(launcher_->launches(kAlice), 1);
  launcher_->end(launcher_->last_pid());
  run_until([&] { return launcher_->launches(kAlice) == 2; });
  EXPECT_EQ(launcher_->launches(kAlice), 2);
  EXPECT_EQ(state_of("3"), "starting");
}

// ---- adoption across a daemon restart -------------------------------------------------------

TEST_F(SupervisorTest, RecordsHoldTheTokensDigestNeverTheToken) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  std::ifstream file(records_dir_ / "3.json");
  const std::string text(std::istreambuf_iterator<char>(file), {});
  EXPECT_EQ(text.find(launcher_->last_token()), std::string::npos);
  EXPECT_NE(text.find(token_digest(launcher_->last_token())), std::string::npos);
  EXPECT_EQ(std::filesystem::status(records_dir_).permissions(), std::filesystem::perms::owner_all);
}

TEST_F(SupervisorTest, ARestartedDaemonReadoptsTheAgentInsteadOfLaunchingAnother) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t pid = launcher_->last_pid();
  AgentLine first = connect();
  auto accepted = session_hello(first, "3", kAlice, pid, launcher_->last_token());
  ASSERT_TRUE(accepted);
  supervisor_->hand_over();

  make_supervisor();  // the next daemon
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(launcher_->total_launches(), 0) << "it waits for the recorded agent";
  EXPECT_EQ(state_of("3"), "starting");
  EXPECT_EQ(pid_of("3"), pid);
  AgentLine back = connect();
  auto readopted = session_hello(back, "3", kAlice, pid, (*accepted)["next_token"]);
  ASSERT_TRUE(readopted.has_value()) << readopted.error().message;
  EXPECT_EQ(state_of("3"), "ready");
  run_for(400ms);  // past the adoption wait: nothing is launched or killed
  EXPECT_EQ(launcher_->total_launches(), 0);
  EXPECT_TRUE(processes_.signals().empty());
}

TEST_F(SupervisorTest, AnAgentThatMissedItsLastAnswerIsReadoptedWithItsOldToken) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t pid = launcher_->last_pid();
  const std::string launch_token = launcher_->last_token();
  AgentLine first = connect();
  ASSERT_TRUE(session_hello(first, "3", kAlice, pid, launch_token));  // the answer is "lost"
  supervisor_->hand_over();
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  AgentLine back = connect();
  EXPECT_TRUE(session_hello(back, "3", kAlice, pid, launch_token).has_value());
}

TEST_F(SupervisorTest, ARecycledPidIsNotAdopted) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t pid = launcher_->last_pid();
  supervisor_->hand_over();
  ProcessFacts stranger = launcher_->facts_for(pid, kAlice);
  stranger.start_time += 1;  // same pid, another process
  processes_.set(pid, stranger);
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(launcher_->total_launches(), 1) << "launched at once, nothing to wait for";
  EXPECT_TRUE(processes_.signals().empty()) << "the stranger is left alone";
}

TEST_F(SupervisorTest, AnAgentThatDoesNotComeBackIsReplacedAfterTheWait) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t pid = launcher_->last_pid();
  supervisor_->hand_over();
  make_supervisor();
  launcher_->set_next_pid(5000);
  supervisor_->reconcile({session("3", kAlice)});
  run_until([&] { return launcher_->total_launches() == 1; }, 2s);
  EXPECT_EQ(signals_to(pid, SIGKILL), 1);
  EXPECT_EQ(launcher_->total_launches(), 1);
  EXPECT_EQ(pid_of("3"), 5000);
}

TEST_F(SupervisorTest, AnAgentRunningAReplacedBinaryIsReplacedNotAdopted) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t old_agent = launcher_->last_pid();
  const std::string token = launcher_->last_token();
  supervisor_->hand_over();
  ProcessFacts upgraded = launcher_->facts_for(old_agent, kAlice);
  upgraded.executable += " (deleted)";  // what /proc/<pid>/exe says after an upgrade
  processes_.set(old_agent, upgraded);
  make_supervisor();
  launcher_->set_next_pid(6000);
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(signals_to(old_agent, SIGTERM), 1);
  AgentLine line = connect();
  EXPECT_FALSE(session_hello(line, "3", kAlice, old_agent, token).has_value());
  run_until([&] { return launcher_->total_launches() == 1; });
  EXPECT_EQ(pid_of("3"), 6000);
}

TEST_F(SupervisorTest, AgentsOfSessionsThatEndedMeanwhileAreStopped) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice), session("4", kBob)});
  const pid_t alice = launcher_->last_pid() - 1;
  supervisor_->hand_over();
  make_supervisor();
  supervisor_->reconcile({session("4", kBob)});
  EXPECT_EQ(signals_to(alice, SIGTERM), 1);
  EXPECT_FALSE(std::filesystem::exists(records_dir_ / "3.json"));
  EXPECT_EQ(launcher_->total_launches(), 0);
}

TEST_F(SupervisorTest, AgentsOfAnotherStrategyAreStoppedAfterASwitch) {
  make_supervisor(AgentScope::kSession, "exec");
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t exec_agent = launcher_->last_pid();
  supervisor_->hand_over();
  make_supervisor(AgentScope::kUser, "asuser");
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(signals_to(exec_agent, SIGTERM), 1);
  EXPECT_EQ(launcher_->launches(kAlice), 1);
}

TEST_F(SupervisorTest, StopAllStopsEverythingAndForgetsTheRecords) {
  make_supervisor();
  supervisor_->reconcile({session("3", kAlice), session("4", kBob)});
  bool done = false;
  supervisor_->stop_all([&] { done = true; });
  run_until([&] { return done; });
  EXPECT_TRUE(done);
  EXPECT_TRUE(std::filesystem::is_empty(records_dir_));
}

// ---- user scope (asuser, launch-agent) ------------------------------------------------------

TEST_F(SupervisorTest, OneUserAgentServesAllOfTheUsersSessions) {
  make_supervisor(AgentScope::kUser, "asuser");
  supervisor_->reconcile({session("3", kAlice), session("4", kAlice), session("5", kBob)});
  EXPECT_EQ(launcher_->launches(kAlice), 1);
  EXPECT_EQ(launcher_->launches(kBob), 1);
  EXPECT_TRUE(launcher_->last_token().empty()) << "user agents get no token";
  EXPECT_EQ(pid_of("3"), pid_of("4"));
  AgentLine line = connect();
  auto accepted = hello(line, kAlice, pid_of("3"), {{"version", "test"}});
  ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
  EXPECT_EQ(*accepted, (Json{{"scope", "user"}, {"uid", kAlice}}));
  EXPECT_EQ(state_of("3"), "ready");
  EXPECT_EQ(state_of("4"), "ready");
  EXPECT_EQ(supervisor_->agent_id_of(line.daemon_side), "user-1001");
  for (const AgentView& view : supervisor_->agents()) {
    EXPECT_EQ(view.agent_id, fmt::format("user-{}", view.session.uid));
  }
}

TEST_F(SupervisorTest, AUserAgentGoesWhenTheLastSessionEnds) {
  make_supervisor(AgentScope::kUser, "asuser");
  supervisor_->reconcile({session("3", kAlice), session("4", kAlice)});
  const pid_t pid = launcher_->last_pid();
  supervisor_->reconcile({session("4", kAlice)});
  EXPECT_TRUE(launcher_->signals().empty()) << "one session is left";
  EXPECT_EQ(state_of("3"), "absent");
  supervisor_->reconcile({});
  EXPECT_EQ(signals_to(pid, SIGTERM), 1);
}

TEST_F(SupervisorTest, AUserAgentRestartedByItsServiceManagerIsTakenOnItsUnit) {
  make_supervisor(AgentScope::kUser, "launch-agent");
  supervisor_->reconcile({session("3", kAlice)});
  const pid_t restarted = 7777;  // not the pid the launcher returned
  processes_.set(restarted, launcher_->facts_for(restarted, kAlice));
  AgentLine line = connect();
  ASSERT_TRUE(hello(line, kAlice, restarted, {{"version", "test"}}).has_value());
  EXPECT_EQ(pid_of("3"), restarted);
  processes_.exit(restarted);
  run_until([&] { return state_of("3") == "backoff"; });
  EXPECT_EQ(state_of("3"), "backoff");
}

TEST_F(SupervisorTest, AUserHelloMustComeFromTheUnitTheUserAndTheBinary) {
  make_supervisor(AgentScope::kUser, "asuser");
  supervisor_->reconcile({session("3", kAlice)});
  auto refused_with = [&](pid_t pid, ProcessFacts facts, uid_t peer_uid) {
    processes_.set(pid, std::move(facts));
    AgentLine line = connect();
    auto result = hello(line, peer_uid, pid, {{"version", "test"}});
    return result ? std::string("accepted") : result.error().message;
  };
  ProcessFacts other_unit = launcher_->facts_for(800, kAlice);
  other_unit.user_unit = "evil.service";
  EXPECT_NE(refused_with(800, other_unit, kAlice).find("evil.service"), std::string::npos);
  ProcessFacts other_binary = launcher_->facts_for(801, kAlice);
  other_binary.executable = "/home/alice/liaison";
  EXPECT_NE(refused_with(801, other_binary, kAlice).find("/home/alice/liaison"), std::string::npos);
  ProcessFacts in_session = launcher_->facts_for(802, kAlice);
  in_session.in_user_manager = false;
  EXPECT_NE(refused_with(802, in_session, kAlice).find("service manager"), std::string::npos);
  ProcessFacts bobs = launcher_->facts_for(803, kBob);
  EXPECT_NE(refused_with(803, bobs, kBob).find("no agent is expected"), std::string::npos);
  EXPECT_EQ(state_of("3"), "starting");
}

// Issue 11 attack 1, confirmed by issue 24 on the running daemon: alice serves her own D-Bus on
// her manager's socket and names another process as the MainPID of her agent's unit. Root once
// adopted it, listed it as her agent, and at her logout sent it SIGTERM, then SIGKILL.
TEST_F(SupervisorTest, AMainPidThatIsNotOurAgentIsNeverAdoptedNorSignalled) {
  make_supervisor(AgentScope::kUser, "asuser");
  std::vector<std::pair<std::string, ProcessFacts>> victims;
  victims.emplace_back("bob's agent", launcher_->facts_for(0, kBob));
  ProcessFacts in_session = launcher_->facts_for(0, kAlice);
  in_session.in_user_manager = false;  // alice's own process, outside her manager
  victims.emplace_back("a session process", in_session);
  ProcessFacts other_unit = launcher_->facts_for(0, kAlice);
  other_unit.user_unit = "pipewire.service";
  victims.emplace_back("another unit", other_unit);
  ProcessFacts other_binary = launcher_->facts_for(0, kAlice);
  other_binary.executable = "/usr/bin/python3";
  victims.emplace_back("another binary", other_binary);
  ProcessFacts root = launcher_->facts_for(0, 0);
  root.in_user_manager = false;
  victims.emplace_back("a process of root", root);
  pid_t victim = 600;
  for (auto& [what, facts] : victims) {
    ++victim;
    processes_.set(victim, facts);
    launcher_->name_next_main_pid(victim);
    supervisor_->reconcile({session("3", kAlice)});
    EXPECT_EQ(state_of("3"), "backoff") << what;
    EXPECT_NE(pid_of("3"), victim) << what;
    supervisor_->reconcile({});  // her logout: nothing of hers is running to stop
    run_until([&] { return state_of("3") == "absent"; });
    EXPECT_EQ(signals_to(victim, SIGTERM) + signals_to(victim, SIGKILL), 0) << what;
  }
  // The real agent, named by her real manager, is adopted as before.
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(state_of("3"), "starting");
  EXPECT_EQ(pid_of("3"), launcher_->last_pid());
}

// Issue 11 attack 1, the other half: a user's service manager that never answers once held the
// daemon's only loop for up to 3 s a call, ten calls a launch. Launches that may wait on the
// user now run off the loop: alice's stalled launch holds only alice's agent.
TEST_F(SupervisorTest, ALaunchThatWaitsOnTheUsersManagerHoldsOnlyThatUsersAgent) {
  make_supervisor(AgentScope::kUser, "asuser");
  launcher_->set_may_block(true);
  launcher_->hold_launches_of(kAlice);
  supervisor_->reconcile({session("3", kAlice), session("5", kBob)});
  run_until([&] { return pid_of("5") > 0; });
  EXPECT_GT(pid_of("5"), 0) << "bob's agent is launched while alice's launch waits";
  AgentLine line = connect();
  EXPECT_TRUE(hello(line, kBob, pid_of("5"), {{"version", "test"}}).has_value());
  EXPECT_EQ(state_of("5"), "ready");
  EXPECT_EQ(state_of("3"), "starting");
  EXPECT_EQ(pid_of("3"), 0);
  launcher_->release(kAlice);
  run_until([&] { return pid_of("3") > 0; });
  EXPECT_GT(pid_of("3"), 0);
  EXPECT_EQ(state_of("3"), "starting");
}

// She logs out while her launch waits: nothing is signalled meanwhile (there is no process yet),
// and what the launch started is stopped once it answers.
TEST_F(SupervisorTest, WhatALaunchStartsAfterItsUserLeftIsStopped) {
  make_supervisor(AgentScope::kUser, "asuser");
  launcher_->set_may_block(true);
  launcher_->hold_launches_of(kAlice);
  supervisor_->reconcile({session("3", kAlice)});
  supervisor_->reconcile({});
  run_for(20ms);
  EXPECT_TRUE(launcher_->signals().empty());
  launcher_->release(kAlice);
  run_until([&] { return state_of("3") == "absent"; });
  EXPECT_EQ(state_of("3"), "absent");
  EXPECT_EQ(signals_to(launcher_->last_pid(), SIGTERM), 1);
}

// A session agent quick to say hello may do so before its launch's answer reaches the loop: it
// is known by its token, stays ready, and its handle comes with the answer.
TEST_F(SupervisorTest, AHelloBeforeTheLaunchAnswersIsAcceptedAndKept) {
  make_supervisor(AgentScope::kSession, "exec");
  launcher_->set_may_block(true);
  launcher_->hold_launches_of(kAlice);
  supervisor_->reconcile({session("3", kAlice)});
  launcher_->release(kAlice);
  // The token the launcher was given, before the loop hears back from it.
  std::string token;
  for (int i = 0; i < 500 && token.empty(); ++i) {
    std::this_thread::sleep_for(1ms);
    token = launcher_->last_token();
  }
  ASSERT_FALSE(token.empty());
  AgentLine line = connect();
  EXPECT_TRUE(session_hello(line, "3", kAlice, launcher_->last_pid(), token).has_value());
  EXPECT_EQ(state_of("3"), "ready");
  run_until([&] { return pid_of("3") > 0; });
  EXPECT_EQ(pid_of("3"), launcher_->last_pid());
  EXPECT_EQ(state_of("3"), "ready");
}

TEST_F(SupervisorTest, EachScopeRefusesTheOtherKindOfHello) {
  make_supervisor(AgentScope::kUser, "asuser");
  supervisor_->reconcile({session("3", kAlice)});
  AgentLine line = connect();
  EXPECT_FALSE(session_hello(line, "3", kAlice, launcher_->last_pid(), "x").has_value());
  make_supervisor(AgentScope::kSession, "exec");
  supervisor_->reconcile({session("3", kAlice)});
  processes_.set(900, launcher_->facts_for(900, kAlice));
  AgentLine user_line = connect();
  EXPECT_FALSE(hello(user_line, kAlice, 900, {{"version", "test"}}).has_value());
}

TEST_F(SupervisorTest, AUserWithoutTheStrategyInstalledIsListedStoppedUntilItIs) {
  make_supervisor(AgentScope::kUser, "launch-agent");
  launcher_->set_unavailable(kAlice, true);
  supervisor_->reconcile({session("3", kAlice)});
  EXPECT_EQ(state_of("3"), "stopped");
  EXPECT_EQ(launcher_->launches(kAlice), 0);
  launcher_->set_unavailable(kAlice, false);
  supervisor_->reconsider();
  EXPECT_EQ(state_of("3"), "starting");
  EXPECT_EQ(launcher_->launches(kAlice), 1);
  launcher_->set_unavailable(kAlice, true);
  supervisor_->reconsider();
  run_until([&] { return state_of("3") == "stopped"; });
  EXPECT_EQ(state_of("3"), "stopped");
  EXPECT_EQ(signals_to(launcher_->last_pid(), SIGTERM), 1);
}

}  // namespace
}  // namespace liaison::daemon
