// Caps how often something may happen per uid in a sliding minute: notifications one user
// receives (so a buggy script cannot flood a desktop), log lines about one user's refused
// connections (so a user cannot flood the journal). Optionally a cap over all uids as well, for
// what a user with a large subordinate uid range could otherwise multiply.
//
// Memory is bounded by the sends it accepted in the last minute: a refused attempt records
// nothing, and a uid whose sends are all over a minute old is dropped (swept at most once a
// minute, so each call costs O(log uids) amortized).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>

namespace liaison::daemon {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr uint32_t kNoGlobalCap = std::numeric_limits<uint32_t>::max();

  explicit RateLimiter(uint32_t per_minute, std::function<Clock::time_point()> now = Clock::now,
                       uint32_t global_per_minute = kNoGlobalCap)
      : per_minute_(per_minute), global_per_minute_(global_per_minute), now_(std::move(now)) {}

  // Counts one send to `uid` and returns true, or returns false (counting nothing) when the user
  // already had `per_minute` sends in the last minute, or all users `global_per_minute`.
  bool try_acquire(uid_t uid);

  // How long until try_acquire(uid) can succeed again as far as `uid`'s own cap goes; zero when
  // it can now.
  std::chrono::milliseconds retry_after(uid_t uid);

  // Uids with sends in memory: at most those with a send in the last two minutes.
  std::size_t uids_tracked() const { return sends_by_uid_.size(); }

 private:
  static void forget_older_than_a_minute(std::deque<Clock::time_point>& sends,
                                         Clock::time_point now);
  void drop_idle_uids(Clock::time_point now);

  uint32_t per_minute_;
  uint32_t global_per_minute_;
  std::function<Clock::time_point()> now_;
  std::map<uid_t, std::deque<Clock::time_point>> sends_by_uid_;
  std::deque<Clock::time_point> all_sends_;  // only kept with a global cap
  Clock::time_point last_sweep_{};
};

}  // namespace liaison::daemon
