#include "daemon/launch_agent_service.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <chrono>
#include <optional>

#include "daemon/fake_launch_agent_installer.h"

namespace liaison::daemon {
namespace {

using protocol::Json;

// Agents that never run: the service only reads the supervisor's sessions and asks it to
// reconsider.
class IdleLauncher final : public AgentLauncher {
 public:
  std::string strategy() const override { return "exec"; }
  std::expected<LaunchedAgent, std::string> launch(const Session& session,
                                                   const std::string&) override {
    return LaunchedAgent{.pid = 100 + static_cast<pid_t>(session.uid), .uid = session.uid};
  }
  void send_signal(const LaunchedAgent&, int) override {}
};

class LaunchAgentServiceTest : public testing::Test {
 protected:
  LaunchAgentServiceTest() {
    supervisor_.reconcile({session("3", 1001, "alice"), session("4", 1002, "bob")});
  }
  static Session session(std::string id, uid_t uid, std::string user) {
    return {.id = std::move(id),
            .uid = uid,
            .user = std::move(user),
            .type = "x11",
            .session_class = "user",
            .state = "active"};
  }
  int count(const std::string& action, uid_t uid) const {
    int n = 0;
    for (const auto& [done, to] : installer_.actions()) {
      n += done == action && to == uid;
    }
    return n;
  }

  // Runs one of the service's methods to its end: they ask the managers off the loop.
  protocol::Result<Json> run(asio::awaitable<protocol::Result<Json>> call) {
    std::optional<protocol::Result<Json>> outcome;
    asio::co_spawn(io_, std::move(call), [&](const std::exception_ptr&, protocol::Result<Json> r) {
      outcome = std::move(r);
    });
    io_.restart();
    for (int i = 0; i < 1000 && !outcome; ++i) {
      io_.run_for(std::chrono::milliseconds(5));
    }
    return outcome.value_or(std::unexpected(protocol::Error::internal("the call did not end")));
  }
  protocol::Result<Json> call_install(const Json& params) { return run(service_.install(params)); }
  protocol::Result<Json> call_uninstall(const Json& params) {
    return run(service_.uninstall(params));
  }
  protocol::Result<Json> call_status(const Json& params) { return run(service_.status(params)); }

  asio::io_context io_;
  IdleLauncher launcher_;
  AgentSupervisor supervisor_{io_, launcher_};
  FakeLaunchAgentInstaller installer_;
  LaunchAgentService service_{supervisor_, &installer_, "launch-agent"};
};

TEST_F(LaunchAgentServiceTest, InstallForAUserReloadsManagersAndIsIdempotent) {
  auto installed = call_install({{"user", "1001"}});
  ASSERT_TRUE(installed.has_value()) << installed.error().message;
  EXPECT_EQ((*installed)["changed"], true);
  EXPECT_EQ((*installed)["installed"]["all"], false);
  EXPECT_EQ((*installed)["installed"]["users"][0]["uid"], 1001);
  EXPECT_EQ(installer_.installation()->users, std::set<uid_t>{1001});
  EXPECT_EQ(count("reload", 1001), 1);
  EXPECT_EQ(count("reload", 1002), 1);
  auto again = call_install({{"user", 1001}});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)["changed"], false);
  EXPECT_EQ(count("reload", 1001), 1) << "nothing changed: nothing reloaded";
}

TEST_F(LaunchAgentServiceTest, ReportsEverySessionWithItsUnitAndAgent) {
  ASSERT_TRUE(call_install({{"user", Json::array({"1001"})}}).has_value());
  auto status = call_status(Json::object());
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ((*status)["sessions"].size(), 2u);
  const Json& alice = (*status)["sessions"][0];
  EXPECT_EQ(alice["session"], "3");
  EXPECT_EQ(alice["installed"], true);
  EXPECT_EQ(alice["unit"]["active_state"], "active");
  EXPECT_EQ(alice["agent"]["strategy"], "exec");
  EXPECT_EQ((*status)["sessions"][1]["installed"], false);
  EXPECT_EQ((*status)["strategy"], "launch-agent");
  auto only_bob = call_status({{"user", "1002"}});
  ASSERT_TRUE(only_bob.has_value());
  ASSERT_EQ((*only_bob)["sessions"].size(), 1u);
  EXPECT_EQ((*only_bob)["sessions"][0]["uid"], 1002);
}

TEST_F(LaunchAgentServiceTest, UninstallStopsTheAgentOfThoseItWasRemovedFor) {
  ASSERT_TRUE(call_install({{"user", Json::array({"1001", "1002"})}}).has_value());
  ASSERT_TRUE(call_uninstall({{"user", "1001"}}).has_value());
  EXPECT_EQ(count("stop", 1001), 1);
  EXPECT_EQ(count("stop", 1002), 0);
  EXPECT_EQ(installer_.installation()->users, std::set<uid_t>{1002});
  ASSERT_TRUE(call_uninstall(Json::object()).has_value());
  EXPECT_TRUE(installer_.installation()->empty());
  EXPECT_EQ(count("stop", 1002), 1);
}

TEST_F(LaunchAgentServiceTest, ANewCommandRestartsRunningAgents) {
  ASSERT_TRUE(call_install({{"all", true}}).has_value());
  installer_.change_command();
  auto reinstalled = call_install({{"all", true}});
  ASSERT_TRUE(reinstalled.has_value());
  EXPECT_EQ(count("restart", 1001), 1);
  EXPECT_EQ(count("restart", 1002), 1);
}

TEST_F(LaunchAgentServiceTest, ParamsAreChecked) {
  auto both = call_install({{"user", "1001"}, {"all", true}});
  ASSERT_FALSE(both.has_value());
  EXPECT_EQ(both.error().code, protocol::kInvalidParams);
  auto unknown = call_install({{"users", "1001"}});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, protocol::kInvalidParams);
  auto nobody = call_install({{"user", "no-such-user-here"}});
  ASSERT_FALSE(nobody.has_value());
  EXPECT_EQ(nobody.error().data_code, protocol::codes::kNotFound);
  ASSERT_TRUE(call_install({{"all", true}}).has_value());
  auto partial = call_uninstall({{"user", "1001"}});
  ASSERT_FALSE(partial.has_value());
  EXPECT_EQ(installer_.installation()->all, true);
}

TEST_F(LaunchAgentServiceTest, WithoutAnInstallerEveryMethodIsUnavailable) {
  LaunchAgentService none(supervisor_, nullptr, "exec");
  std::optional<protocol::Result<Json>> outcome;
  // Built outside the co_await: g++ 12 frees braced temporaries there twice.
  protocol::Request request{.id = std::nullopt, .method = "launch_agent.status"};
  asio::co_spawn(
      io_, [&]() -> asio::awaitable<void> { outcome = co_await none.handle(std::move(request)); },
      asio::detached);
  io_.run();
  ASSERT_TRUE(outcome.has_value());
  const auto& result = *outcome;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().data_code, protocol::codes::kUnavailable);
}

}  // namespace
}  // namespace liaison::daemon
