#include "daemon/notification_outcomes.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <optional>
#include <string>

namespace liaison::daemon {
namespace {

using namespace std::chrono_literals;

class NotificationOutcomesTest : public testing::Test {
 protected:
  // Starts a wait; its outcome lands in the returned slot when the wait ends.
  std::shared_ptr<std::optional<NotificationOutcome>> start_wait(
      const std::string& agent, uint32_t id, std::chrono::milliseconds timeout) {
    auto slot = std::make_shared<std::optional<NotificationOutcome>>();
    io_.restart();  // a loop that ran out of work stays stopped until restarted
    asio::co_spawn(
        io_,
        [this, agent, id, timeout, slot]() -> asio::awaitable<void> {
          *slot = co_await outcomes_.wait(agent, id, timeout);
        },
        asio::detached);
    io_.poll();
    return slot;
  }

  // The outcome of a finished wait; a test failure (and an empty outcome) if it has not ended.
  static const NotificationOutcome& got(const std::optional<NotificationOutcome>& slot) {
    static const NotificationOutcome kNone;
    EXPECT_TRUE(slot.has_value()) << "the wait has not ended";
    return slot.has_value() ? *slot : kNone;  // NOLINT(bugprone-unchecked-optional-access)
  }

  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      io_.run_for(5ms);
    }
  }

  asio::io_context io_;
  NotificationOutcomes outcomes_{io_.get_executor()};
};

TEST_F(NotificationOutcomesTest, AWaitSeesTheClickAndTheClose) {
  outcomes_.expect("agent-a", 7, {"restart", "later"});
  auto outcome = start_wait("agent-a", 7, 10s);
  EXPECT_TRUE(outcomes_.record_action("agent-a", 7, "restart"));
  EXPECT_TRUE(outcomes_.record_closed("agent-a", 7, "dismissed"));
  run_until([&] { return outcome->has_value(); });
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ(got(*outcome).action, "restart");
  EXPECT_EQ(got(*outcome).closed, "dismissed");
  EXPECT_EQ(outcomes_.remembered(), 0u) << "delivered: forgotten";
}

TEST_F(NotificationOutcomesTest, AnEventBeforeTheWaitIsKeptForIt) {
  outcomes_.expect("agent-a", 7, {});
  EXPECT_TRUE(outcomes_.record_closed("agent-a", 7, "expired"));
  auto outcome = start_wait("agent-a", 7, 10s);
  run_until([&] { return outcome->has_value(); });
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ(got(*outcome).closed, "expired");
}

// Issue 11, attack 4: a hijacked agent once filed events of any size under any id, without end.
TEST_F(NotificationOutcomesTest, EventsForNotificationsNotShownByThatAgentAreRefused) {
  outcomes_.expect("agent-a", 7, {"restart"});
  const std::string huge(std::size_t{1024} * 1024, 'x');
  for (uint32_t id = 0; id < 5000; ++id) {
    EXPECT_FALSE(outcomes_.record_action("agent-b", id, huge));
    EXPECT_FALSE(outcomes_.record_closed("agent-b", id, huge));
  }
  EXPECT_FALSE(outcomes_.record_action("agent-b", 7, "restart")) << "agent-a's notification";
  EXPECT_FALSE(outcomes_.record_action("agent-a", 7, huge)) << "not an action it was offered";
  EXPECT_TRUE(outcomes_.record_action("agent-a", 7, "default")) << "the body is always clickable";
  EXPECT_EQ(outcomes_.remembered(), 1u);
}

TEST_F(NotificationOutcomesTest, AnUnknownCloseReasonIsUndefined) {
  outcomes_.expect("agent-a", 7, {});
  EXPECT_TRUE(outcomes_.record_closed("agent-a", 7, std::string(100'000, 'r')));
  auto outcome = start_wait("agent-a", 7, 10s);
  run_until([&] { return outcome->has_value(); });
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ(got(*outcome).closed, "undefined");
}

TEST_F(NotificationOutcomesTest, TheTableStaysBoundedWhileAWaitRuns) {
  outcomes_.expect("agent-a", 0, {});
  auto outcome = start_wait("agent-a", 0, 10s);  // waited for: never forgotten
  for (uint32_t id = 1; id < 3 * NotificationOutcomes::kMaxRemembered; ++id) {
    outcomes_.expect("agent-a", id, {});
  }
  EXPECT_LE(outcomes_.remembered(), NotificationOutcomes::kMaxRemembered);
  EXPECT_TRUE(outcomes_.record_closed("agent-a", 0, "closed"));
  run_until([&] { return outcome->has_value(); });
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ(got(*outcome).closed, "closed");
}

// Issue 24: each waited notification once left its key in the arrival order after the wait
// erased its entry: one more key per `notify --wait-action`, forever.
TEST_F(NotificationOutcomesTest, WaitedNotificationsLeaveNothingBehind) {
  for (uint32_t id = 0; id < 2000; ++id) {
    outcomes_.expect("agent-a", id, {});
    auto outcome = start_wait("agent-a", id, 10s);
    EXPECT_TRUE(outcomes_.record_closed("agent-a", id, "closed"));
    run_until([&] { return outcome->has_value(); });
  }
  EXPECT_EQ(outcomes_.remembered(), 0u);
  EXPECT_EQ(outcomes_.arrival_order_size(), 0u);
  for (uint32_t id = 0; id < 3 * NotificationOutcomes::kMaxRemembered; ++id) {
    outcomes_.expect("agent-b", id, {});
  }
  EXPECT_EQ(outcomes_.remembered(), NotificationOutcomes::kMaxRemembered);
  EXPECT_EQ(outcomes_.arrival_order_size(), NotificationOutcomes::kMaxRemembered);
}

// Attack 4: an agent answering two notifies with one id made the second wait throw, and its
// control request never returned.
TEST_F(NotificationOutcomesTest, TwoWaitsOnOneIdBothEnd) {
  outcomes_.expect("agent-a", 7, {});
  outcomes_.expect("agent-a", 7, {});
  auto first = start_wait("agent-a", 7, 10s);
  auto second = start_wait("agent-a", 7, 200ms);
  EXPECT_TRUE(outcomes_.record_closed("agent-a", 7, "closed"));
  run_until([&] { return first->has_value() && second->has_value(); });
  ASSERT_TRUE(first->has_value() && second->has_value());
  EXPECT_EQ(got(*first).closed, "closed");
  EXPECT_EQ(got(*second).closed, "closed");
  EXPECT_EQ(outcomes_.remembered(), 0u);
}

TEST_F(NotificationOutcomesTest, AWaitForANotificationNeverShownEndsAtOnce) {
  auto outcome = start_wait("agent-a", 9, 10s);
  ASSERT_TRUE(outcome->has_value());
  EXPECT_FALSE(got(*outcome).action || got(*outcome).closed);
}

TEST_F(NotificationOutcomesTest, AWaitWithoutEventsEndsAtItsDeadline) {
  outcomes_.expect("agent-a", 7, {});
  auto outcome = start_wait("agent-a", 7, 50ms);
  run_until([&] { return outcome->has_value(); });
  ASSERT_TRUE(outcome->has_value());
  EXPECT_FALSE(got(*outcome).action || got(*outcome).closed);
}

}  // namespace
}  // namespace liaison::daemon
