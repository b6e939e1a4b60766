// The daemon with real in-process agents of a user-scope strategy (asuser, launch-agent): one
// agent per user, which says a hello without session or token and is proven by its unit (the
// fake process inspector plays sd-login and /proc). What this proves: one agent serves all of a
// user's sessions, a notification to that user is shown once and reported for each session, a
// click reaches every session's result, and the agent goes only with the user's last session.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <filesystem>
#include <functional>

#include "agent/agent.h"
#include "agent/fake_notifier.h"
#include "common/pipe_signal.h"
#include "daemon/daemon.h"
#include "daemon/fake_peer_identity.h"
#include "daemon/fake_process_inspector.h"
#include "daemon/fake_session_source.h"
#include "daemon_harness.h"

namespace liaison {
namespace {

using namespace std::chrono_literals;
using daemon::Session;
using protocol::Connection;
using protocol::Json;
using protocol::Result;

constexpr char kUnit[] = "liaison-agent-asuser.service";
constexpr char kBinary[] = "/usr/bin/liaison";

// Runs each user's agent in this process, as its service manager would run it: no session, no
// token. Its exit fd is a PipeSignal fired when the agent leaves.
class UserScopeLauncher final : public daemon::AgentLauncher {
 public:
  UserScopeLauncher(asio::io_context& io, std::string socket_path)
      : io_(io), socket_path_(std::move(socket_path)) {}

  std::string strategy() const override { return "asuser"; }
  daemon::AgentScope scope() const override { return daemon::AgentScope::kUser; }
  std::optional<daemon::UnitIdentity> unit_identity() const override {
    return daemon::UnitIdentity{kUnit, kBinary};
  }

  std::expected<daemon::LaunchedAgent, std::string> launch(const Session& session,
                                                           const std::string& token) override {
    ++launches_;
    EXPECT_TRUE(token.empty()) << "a user-scope agent gets no token";
    exited_ = std::make_shared<PipeSignal>();
    agent::AgentOptions options{
        .socket_path = socket_path_, .first_retry = 10ms, .max_retry = 50ms};
    agent_ = std::make_unique<agent::Agent>(io_, options, [this](agent::NotifierEvents events) {
      auto notifier = std::make_unique<agent::FakeNotifier>(std::move(events));
      notifier_ = notifier.get();
      return std::expected<std::unique_ptr<agent::Notifier>, std::string>(std::move(notifier));
    });
    agent_->start([exited = exited_](int) { exited->fire(); });
    return daemon::LaunchedAgent{::getpid(), session.uid, exited_->watch()};
  }

  void send_signal(const daemon::LaunchedAgent&, int) override { ++signals_; }
  std::optional<int> reap(const daemon::LaunchedAgent&) override { return 0; }

  int launches() const { return launches_; }
  agent::FakeNotifier* notifier() const { return notifier_; }

 private:
  asio::io_context& io_;
  std::string socket_path_;
  std::unique_ptr<agent::Agent> agent_;
  agent::FakeNotifier* notifier_ = nullptr;
  std::shared_ptr<PipeSignal> exited_;
  int launches_ = 0;
  int signals_ = 0;
};

class UserAgentTest : public DaemonHarness {
 protected:
  UserAgentTest() : DaemonHarness("user-agents") {
    // Every in-process agent is this process: it runs "in alice's manager, under our unit".
    processes_.set(::getpid(), {.uid = kAlice,
                                .start_time = 1,
                                .in_user_manager = true,
                                .manager_uid = kAlice,
                                .user_unit = kUnit,
                                .executable = kBinary});
    launcher_ = std::make_unique<UserScopeLauncher>(io_, paths_.agent_socket());
    daemon_ = std::make_unique<daemon::Daemon>(io_, config_, paths_,
                                               daemon::DaemonParts{.sessions = sessions_,
                                                                   .launcher = *launcher_,
                                                                   .peers = peers_,
                                                                   .processes = &processes_});
  }
  static Session session(std::string id) {
    return DaemonHarness::session(std::move(id), kAlice, "alice");
  }

  Json listed() { return control("sessions.list", Json::object()).value_or(Json::array()); }

  bool all_ready(std::initializer_list<const char*> ids) {
    Json sessions = listed();
    for (const char* id : ids) {
      bool ready = false;
      for (const Json& s : sessions) ready |= s["session"] == id && s["agent"]["state"] == "ready";
      if (!ready) return false;
    }
    return true;
  }

  daemon::FakeProcessInspector processes_;
  std::unique_ptr<UserScopeLauncher> launcher_;
  std::unique_ptr<daemon::Daemon> daemon_;
};

TEST_F(UserAgentTest, OneAgentServesBothSessionsAndANotificationIsShownOnce) {
  sessions_.set_sessions({session("3"), session("4")});
  ASSERT_TRUE(daemon_->start().has_value());
  run_until([&] { return all_ready({"3", "4"}); });
  ASSERT_TRUE(all_ready({"3", "4"})) << listed().dump();
  EXPECT_EQ(launcher_->launches(), 1);

  auto sent = control("notify", {{"user", "1001"}, {"title", "once"}});
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  const Json& results = (*sent)["results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["delivered"], true);
  EXPECT_EQ(results[1]["delivered"], true);
  EXPECT_EQ(results[0]["notification_id"], results[1]["notification_id"]);
  EXPECT_EQ(launcher_->notifier()->shown().size(), 1u) << "one agent, one notification";
}

TEST_F(UserAgentTest, AClickIsReportedForEverySessionTheAgentServes) {
  sessions_.set_sessions({session("3"), session("4")});
  ASSERT_TRUE(daemon_->start().has_value());
  run_until([&] { return all_ready({"3", "4"}); });
  asio::steady_timer user(io_, 50ms);
  user.async_wait([&](std::error_code) {
    auto* notifier = launcher_->notifier();
    notifier->click(notifier->last_shown().id, "restart");
    notifier->close(notifier->last_shown().id, agent::CloseReason::kDismissed);
  });
  auto sent = control("notify", {{"session", Json::array({"3", "4"})},
                                 {"title", "Restart now?"},
                                 {"action", {"restart=Restart"}},
                                 {"wait_action", 10}});
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  for (const Json& result : (*sent)["results"]) {
    EXPECT_EQ(result["action"], "restart") << result.dump();
    EXPECT_EQ(result["closed"], "dismissed") << result.dump();
  }
}

TEST_F(UserAgentTest, TheAgentStaysWhileOneSessionIsLeftAndGoesWithTheLast) {
  sessions_.set_sessions({session("3"), session("4")});
  ASSERT_TRUE(daemon_->start().has_value());
  run_until([&] { return all_ready({"3", "4"}); });
  sessions_.set_sessions({session("4")});
  run_until([&] { return listed().size() == 1; });
  EXPECT_TRUE(all_ready({"4"}));
  EXPECT_EQ(launcher_->launches(), 1);
  sessions_.set_sessions({});
  run_until([&] { return listed().empty(); });
  EXPECT_TRUE(listed().empty());
  auto sent = control("notify", {{"user", "1001"}, {"title", "nobody"}});
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().data_code, protocol::codes::kNoSession);
}

TEST_F(UserAgentTest, AHelloFromAnotherUnitIsRefused) {
  processes_.set(::getpid(), {.uid = kAlice,
                              .start_time = 1,
                              .in_user_manager = true,
                              .manager_uid = kAlice,
                              .user_unit = "not-ours.service",
                              .executable = kBinary});
  sessions_.set_sessions({session("3")});
  ASSERT_TRUE(daemon_->start().has_value());
  io_.run_for(300ms);
  EXPECT_NE(listed()[0]["agent"]["state"], "ready");
}

}  // namespace
}  // namespace liaison
