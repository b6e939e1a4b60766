#include "daemon/agent_connection_quota.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace liaison::daemon {
namespace {

TEST(AgentConnectionQuota, CapsUnprovenConnectionsPerUidAndAllConnections) {
  AgentConnectionQuota quota(/*max_connections=*/5, /*max_unproven_per_uid=*/2);
  std::vector<AgentConnectionQuota::Slot> slots;
  slots.push_back(*quota.try_take(1001));
  slots.push_back(*quota.try_take(1001));
  auto third = quota.try_take(1001);
  ASSERT_FALSE(third.has_value());
  EXPECT_NE(third.error().find("without agent.hello"), std::string::npos);
  slots.push_back(*quota.try_take(1002));
  slots.push_back(*quota.try_take(1003));
  slots.push_back(*quota.try_take(1003));
  auto sixth = quota.try_take(1004);
  ASSERT_FALSE(sixth.has_value());
  EXPECT_EQ(sixth.error(), "too many agent connections");
}

TEST(AgentConnectionQuota, AProvenConnectionLeavesItsUidsUnprovenCount) {
  AgentConnectionQuota quota(10, 1);
  auto agent = quota.try_take(1001);
  ASSERT_TRUE(agent.has_value());
  agent->mark_proven();
  agent->mark_proven();  // twice is once
  EXPECT_EQ(quota.unproven(1001), 0u);
  EXPECT_EQ(quota.uids_with_unproven(), 0u) << "no entry is kept for a uid with none";
  EXPECT_TRUE(quota.try_take(1001).has_value());
  EXPECT_EQ(quota.connections(), 1u) << "the temporary slot above gave its place back";
}

// However a connection ends, its places come back exactly once: released, destroyed, released
// and then destroyed, moved from, or outliving the quota.
TEST(AgentConnectionQuota, PlacesComeBackExactlyOnceHoweverTheSlotEnds) {
  AgentConnectionQuota quota(10, 4);
  {
    auto destroyed = quota.try_take(1001);
    auto released = quota.try_take(1001);
    released->release();
    EXPECT_EQ(quota.connections(), 1u);
    released->release();
    EXPECT_EQ(quota.connections(), 1u);
    AgentConnectionQuota::Slot moved = std::move(*destroyed);
    EXPECT_EQ(quota.connections(), 1u);
  }
  EXPECT_EQ(quota.connections(), 0u);
  EXPECT_EQ(quota.unproven(1001), 0u);
  EXPECT_EQ(quota.uids_with_unproven(), 0u);

  std::optional<AgentConnectionQuota::Slot> outlives;
  {
    AgentConnectionQuota gone(10, 4);
    outlives.emplace(*gone.try_take(1001));
  }
  outlives.reset();  // the counts it shares are still there to give back to
}

TEST(AgentConnectionQuota, MoveAssignmentGivesBackWhatTheTargetHeld) {
  AgentConnectionQuota quota(10, 4);
  auto first = quota.try_take(1001);
  auto second = quota.try_take(1002);
  *first = std::move(*second);
  EXPECT_EQ(quota.connections(), 1u);
  EXPECT_EQ(quota.unproven(1001), 0u);
  EXPECT_EQ(quota.unproven(1002), 1u);
}

}  // namespace
}  // namespace liaison::daemon
