#include "daemon/rate_limiter.h"

#include <iterator>

namespace liaison::daemon {

void RateLimiter::forget_older_than_a_minute(std::deque<Clock::time_point>& sends,
                                             Clock::time_point now) {
  while (!sends.empty() && now - sends.front() >= std::chrono::minutes(1)) {
    sends.pop_front();
  }
}

void RateLimiter::drop_idle_uids(Clock::time_point now) {
  if (now - last_sweep_ < std::chrono::minutes(1)) {
    return;
  }
  last_sweep_ = now;
  for (auto entry = sends_by_uid_.begin(); entry != sends_by_uid_.end();) {
    forget_older_than_a_minute(entry->second, now);
    entry = entry->second.empty() ? sends_by_uid_.erase(entry) : std::next(entry);
  }
}

bool RateLimiter::try_acquire(uid_t uid) {
  const auto now = now_();
  drop_idle_uids(now);
  if (global_per_minute_ != kNoGlobalCap) {
    forget_older_than_a_minute(all_sends_, now);
    if (all_sends_.size() >= global_per_minute_) {
      return false;
    }
  }
  auto found = sends_by_uid_.find(uid);
  if (found != sends_by_uid_.end()) {
    forget_older_than_a_minute(found->second, now);
    if (found->second.size() >= per_minute_) {
      return false;
    }
  } else if (per_minute_ == 0) {
    return false;
  } else {
    found = sends_by_uid_.try_emplace(uid).first;  // only an accepted send makes an entry
  }
  found->second.push_back(now);
  if (global_per_minute_ != kNoGlobalCap) {
    all_sends_.push_back(now);
  }
  return true;
}

std::chrono::milliseconds RateLimiter::retry_after(uid_t uid) {
  const auto now = now_();
  auto found = sends_by_uid_.find(uid);
  if (found == sends_by_uid_.end()) {
    return std::chrono::milliseconds(0);
  }
  forget_older_than_a_minute(found->second, now);
  if (found->second.size() < per_minute_) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::ceil<std::chrono::milliseconds>(found->second.front() +
                                                      std::chrono::minutes(1) - now);
}

}  // namespace liaison::daemon
