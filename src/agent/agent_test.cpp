#include "agent/agent.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/use_awaitable.hpp>
#include <filesystem>
#include <functional>

#include "agent/agent_keys.h"
#include "agent/fake_notifier.h"
#include "agent/fake_session_probe.h"
#include "agent/fake_session_watch.h"
#include "keys/fake_provider.h"

namespace liaison::agent {
namespace {

using namespace std::chrono_literals;
using protocol::Connection;
using protocol::Json;
using protocol::Request;
using protocol::Result;

// Plays the daemon: accepts agents on a socket in a temp dir and records what they say.
class AgentTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("liaison-agent-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    socket_path_ = (dir_ / "agent.sock").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void listen() {
    ::unlink(socket_path_.c_str());
    acceptor_.open(asio::local::stream_protocol());
    acceptor_.bind(asio::local::stream_protocol::endpoint(socket_path_));
    acceptor_.listen();
    accept_next();
  }

  void accept_next() {
    acceptor_.async_accept([this](std::error_code error, asio::local::stream_protocol::socket s) {
      if (error) {
        return;
      }
      daemon_side_ = Connection::create(std::move(s));
      daemon_side_->start([this](Request request) { return on_agent_message(std::move(request)); });
      accept_next();
    });
  }

  asio::awaitable<Result<Json>> on_agent_message(Request request) {
    seen_.push_back(request);
    if (request.method == "agent.hello") {
      hello_tokens_.push_back(request.params.value("token", ""));
      if (refuse_hello_) {
        co_return std::unexpected(
            protocol::Error::application(protocol::codes::kNotPermitted, "no"));
      }
      co_return Json{{"session", "3"},
                     {"next_token", fmt::format("t{}", hello_tokens_.size() + 1)}};
    }
    co_return Json();
  }

  std::unique_ptr<Agent> make_agent(std::chrono::milliseconds grace = 60s,
                                    std::unique_ptr<SessionWatch> watch = nullptr) {
    AgentOptions options{.socket_path = socket_path_,
                         .session_id = "3",
                         .token = "t1",
                         .daemon_grace = grace,
                         .first_retry = 10ms,
                         .max_retry = 50ms};
    auto agent = std::make_unique<Agent>(
        io_, options,
        [this](NotifierEvents events) {
          ++notifiers_asked_;
          if (notifier_failures_ > 0) {
            --notifier_failures_;
            return std::expected<std::unique_ptr<Notifier>, std::string>(
                std::unexpected("no session bus yet"));
          }
          auto notifier = std::make_unique<FakeNotifier>(std::move(events));
          notifier_ = notifier.get();
          return std::expected<std::unique_ptr<Notifier>, std::string>(std::move(notifier));
        },
        std::move(watch));
    agent->start([this](int code) { exit_code_ = code; });
    return agent;
  }

  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      io_.run_for(10ms);
    }
  }

  // Sends `method` to the agent from the daemon's side and waits for the answer.
  Result<Json> daemon_calls(const std::string& method, const Json& params) {
    std::optional<Result<Json>> outcome;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          outcome = co_await daemon_side_->call(method, params, 2s);
        },
        asio::detached);
    run_until([&] { return outcome.has_value(); });
    return outcome.value_or(std::unexpected(protocol::Error::internal("no answer")));
  }

  std::vector<std::string> methods_seen() const {
    std::vector<std::string> methods;
    methods.reserve(seen_.size());
    for (const Request& r : seen_) {
      methods.push_back(r.method);
    }
    return methods;
  }

  asio::io_context io_;
  asio::local::stream_protocol::acceptor acceptor_{io_};
  std::filesystem::path dir_;
  std::string socket_path_;
  std::shared_ptr<Connection> daemon_side_;
  std::vector<Request> seen_;
  std::vector<std::string> hello_tokens_;
  bool refuse_hello_ = false;
  FakeNotifier* notifier_ = nullptr;
  int notifiers_asked_ = 0;
  int notifier_failures_ = 0;  // how many of the next notifiers cannot be made
  std::optional<int> exit_code_;
};

TEST_F(AgentTest, SaysHelloWithItsSessionAndToken) {
  listen();
  auto agent = make_agent();
  run_until([&] { return !hello_tokens_.empty(); });
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].method, "agent.hello");
  EXPECT_EQ(seen_[0].params["session"], "3");
  EXPECT_EQ(seen_[0].params["token"], "t1");
}

// Its session-bus connection is made once it is connected to the daemon, not by the first
// notification: a broadcast to hundreds of agents must not open hundreds of connections at once.
TEST_F(AgentTest, ConnectsItsNotifierOnceReadyNotAtTheFirstNotification) {
  listen();
  auto agent = make_agent();
  run_until([&] { return notifier_ != nullptr; });
  ASSERT_NE(notifier_, nullptr) << "no notifier made after the hello";
  EXPECT_TRUE(notifier_->shown().empty());
  EXPECT_EQ(notifiers_asked_, 1);
}

TEST_F(AgentTest, ANotifierThatCannotBeMadeYetIsMadeAtTheFirstNotification) {
  listen();
  notifier_failures_ = 1;  // the session bus is not up when the agent connects
  auto agent = make_agent();
  run_until([&] { return daemon_side_ != nullptr && notifiers_asked_ == 1; });
  EXPECT_EQ(notifier_, nullptr);
  auto shown = daemon_calls("notify", {{"title", "later"}});
  ASSERT_TRUE(shown.has_value()) << shown.error().message;
  ASSERT_NE(notifier_, nullptr);
  EXPECT_EQ(notifier_->last_shown().notification.title, "later");
  EXPECT_EQ(notifiers_asked_, 2);
}

TEST_F(AgentTest, ShowsWhatTheDaemonSendsAndReportsWhatTheUserDoes) {
  listen();
  auto agent = make_agent();
  run_until([&] { return !hello_tokens_.empty(); });
  const Json params = {{"app_name", "Acme"},
                       {"title", "Restart?"},
                       {"body", "<b>now</b>"},
                       {"actions", Json::array({{{"id", "restart"}, {"label", "Restart"}}})},
                       {"urgency", "critical"},
                       {"id", "upd"},
                       {"action_url", ""},
                       {"icon", ""}};
  auto shown = daemon_calls("notify", params);
  ASSERT_TRUE(shown.has_value()) << shown.error().message;
  ASSERT_NE(notifier_, nullptr);
  const Notification& n = notifier_->last_shown().notification;
  EXPECT_EQ(n.app_name, "Acme");
  EXPECT_EQ(n.title, "Restart?");
  EXPECT_EQ(n.body, "<b>now</b>");
  EXPECT_EQ(n.urgency, Urgency::kCritical);
  EXPECT_EQ(n.dedup_id, "upd");
  ASSERT_EQ(n.actions.size(), 1u);
  EXPECT_EQ(n.actions[0].first, "restart");
  const uint32_t id = (*shown)["notification_id"];

  notifier_->click(id, "restart");
  notifier_->close(id, CloseReason::kDismissed);
  run_until([&] { return seen_.size() >= 3; });
  ASSERT_EQ(methods_seen(), (std::vector<std::string>{"agent.hello", "notification.action",
                                                      "notification.closed"}));
  EXPECT_EQ(seen_[1].params, (Json{{"notification_id", id}, {"action", "restart"}}));
  EXPECT_EQ(seen_[2].params, (Json{{"notification_id", id}, {"reason", "dismissed"}}));
}

TEST_F(AgentTest, AServerFailureIsAnUnavailableError) {
  listen();
  auto agent = make_agent();
  run_until([&] { return !hello_tokens_.empty(); });
  ASSERT_TRUE(daemon_calls("notify", {{"title", "one"}}).has_value());
  notifier_->fail_next_show("no notification server");
  auto failed = daemon_calls("notify", {{"title", "two"}});
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().data_code, protocol::codes::kUnavailable);
  EXPECT_EQ(failed.error().message, "no notification server");
}

TEST_F(AgentTest, ReconnectsWithTheNextTokenWhenTheDaemonComesBack) {
  listen();
  auto agent = make_agent();
  run_until([&] { return hello_tokens_.size() == 1; });
  daemon_side_->close();  // the daemon restarts
  run_until([&] { return hello_tokens_.size() == 2; });
  EXPECT_EQ(hello_tokens_, (std::vector<std::string>{"t1", "t2"}))
      << "a token is used once; the reconnect presents the one the daemon handed out";
  EXPECT_FALSE(exit_code_.has_value());
}

TEST_F(AgentTest, LeavesWhenTheDaemonSaysShutdown) {
  listen();
  auto agent = make_agent();
  run_until([&] { return !hello_tokens_.empty(); });
  daemon_side_->notify("shutdown", Json::object());
  run_until([&] { return exit_code_.has_value(); });
  EXPECT_EQ(exit_code_, 0);
}

TEST_F(AgentTest, LeavesWhenRefused) {
  refuse_hello_ = true;
  listen();
  auto agent = make_agent();
  run_until([&] { return exit_code_.has_value(); });
  EXPECT_EQ(exit_code_, 1);
}

TEST_F(AgentTest, LeavesAfterTheGracePeriodWithoutADaemon) {
  auto agent = make_agent(200ms);  // nobody listens
  run_until([&] { return exit_code_.has_value(); });
  EXPECT_EQ(exit_code_, 0);
}

TEST_F(AgentTest, LeavesWhenItsSessionEndsEvenWithoutTheDaemon) {
  auto watch = std::make_unique<FakeSessionWatch>();
  FakeSessionWatch* session = watch.get();
  auto agent = make_agent(60s, std::move(watch));  // nobody listens: the daemon is away
  io_.run_for(50ms);
  EXPECT_FALSE(exit_code_.has_value());
  session->end_session();
  run_until([&] { return exit_code_.has_value(); });
  EXPECT_EQ(exit_code_, 0);
}

TEST_F(AgentTest, DoctorReportsWhatItsProbeFoundAndEachKeyProviderAsked) {
  listen();
  auto agent = make_agent();
  auto probe = std::make_unique<FakeSessionProbe>(std::vector<protocol::Finding>{
      protocol::Finding::ok("session-bus", "unix:path=/run/user/1000/bus"),
      protocol::Finding::fail("notification-server", "nobody owns the name", "start dunst")});
  FakeSessionProbe* probe_seen = probe.get();
  agent->set_probe(std::move(probe));
  keys::FakeKeyProvider tpm(keys::KeyContext::kUserSession, true, "tpm");
  std::string tcti_asked;
  agent->set_keys(std::make_unique<AgentKeys>(
      dir_ / "keys",
      [&](std::string_view name,
          const std::string& tcti) -> keys::KeyResult<keys::UnexportableKeyProvider*> {
        tcti_asked = tcti;
        if (name == "tpm") {
          return &tpm;
        }
        return std::unexpected(keys::KeyError{"unavailable", "no such provider here"});
      }));
  run_until([&] { return !hello_tokens_.empty(); });

  auto report = daemon_calls(
      "doctor", {{"key_providers", {"tpm", "secure-enclave"}}, {"tpm_tcti", "swtpm:port=1"}});
  ASSERT_TRUE(report.has_value()) << report.error().message;
  auto findings = protocol::findings_from_json(*report);
  ASSERT_EQ(findings.size(), 4u) << report->dump();
  EXPECT_EQ(findings[0].check, "session-bus");
  EXPECT_EQ(findings[1].hint, "start dunst");
  EXPECT_EQ(findings[2].check, "tpm");
  EXPECT_EQ(findings[2].status, protocol::Finding::Status::kOk);
  EXPECT_EQ(findings[3].check, "secure-enclave");
  EXPECT_TRUE(findings[3].failed());
  EXPECT_EQ(tcti_asked, "swtpm:port=1");
  EXPECT_EQ(probe_seen->calls(), 1);
  EXPECT_EQ(tpm.calls().describe, 1);
}

TEST_F(AgentTest, DoctorWithoutKeysSaysSoForEachProviderAsked) {
  listen();
  auto agent = make_agent();
  run_until([&] { return !hello_tokens_.empty(); });
  auto report = daemon_calls("doctor", {{"key_providers", {"tpm"}}});
  ASSERT_TRUE(report.has_value());
  auto findings = protocol::findings_from_json(*report);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].failed());
  EXPECT_NE(findings[0].detail.find("keeps no keys"), std::string::npos);
}

}  // namespace
}  // namespace liaison::agent
