#include "daemon/agent_connection_quota.h"

#include <utility>

namespace liaison::daemon {

std::expected<AgentConnectionQuota::Slot, std::string> AgentConnectionQuota::try_take(uid_t uid) {
  if (counts_->connections >= max_connections_) {
    return std::unexpected("too many agent connections");
  }
  if (unproven(uid) >= max_unproven_per_uid_) {
    return std::unexpected("too many connections of this user without agent.hello");
  }
  ++counts_->connections;
  ++counts_->unproven_by_uid[uid];
  return Slot(counts_, uid);
}

std::size_t AgentConnectionQuota::unproven(uid_t uid) const {
  auto found = counts_->unproven_by_uid.find(uid);
  return found == counts_->unproven_by_uid.end() ? 0 : found->second;
}

AgentConnectionQuota::Slot::Slot(Slot&& other) noexcept
    : counts_(std::exchange(other.counts_, nullptr)), uid_(other.uid_), proven_(other.proven_) {}

AgentConnectionQuota::Slot& AgentConnectionQuota::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    counts_ = std::exchange(other.counts_, nullptr);
    uid_ = other.uid_;
    proven_ = other.proven_;
  }
  return *this;
}

AgentConnectionQuota::Slot::~Slot() { release(); }

void AgentConnectionQuota::Slot::mark_proven() {
  if (counts_ && !proven_) {
    release_unproven();
    proven_ = true;
  }
}

void AgentConnectionQuota::Slot::release() {
  if (!counts_) {
    return;
  }
  if (!proven_) {
    release_unproven();
  }
  --counts_->connections;
  counts_ = nullptr;
}

// The uid's entry goes with its last unproven connection: the map holds only uids with some.
void AgentConnectionQuota::Slot::release_unproven() {
  auto found = counts_->unproven_by_uid.find(uid_);
  if (found != counts_->unproven_by_uid.end() && --found->second == 0) {
    counts_->unproven_by_uid.erase(found);
  }
}

}  // namespace liaison::daemon
