// Caps how many notifications one user receives per minute, so a buggy script cannot flood a
// desktop. A sliding window of the last minute's accepted sends, per user.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>

namespace liaison::daemon {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(uint32_t per_minute, std::function<Clock::time_point()> now = Clock::now)
      : per_minute_(per_minute), now_(std::move(now)) {}

  // Counts one send to `uid` and returns true, or returns false (counting nothing) when the user
  // already had `per_minute` sends in the last minute.
  bool try_acquire(uid_t uid);

  // How long until try_acquire(uid) can succeed again; zero when it can now.
  std::chrono::milliseconds retry_after(uid_t uid);

 private:
  void forget_older_than_a_minute(std::deque<Clock::time_point>& sends, Clock::time_point now);

  uint32_t per_minute_;
  std::function<Clock::time_point()> now_;
  std::map<uid_t, std::deque<Clock::time_point>> sends_by_uid_;
};

}  // namespace liaison::daemon
