#include "daemon/rate_limiter.h"

namespace liaison::daemon {

void RateLimiter::forget_older_than_a_minute(std::deque<Clock::time_point>& sends,
                                             Clock::time_point now) {
  while (!sends.empty() && now - sends.front() >= std::chrono::minutes(1)) {
    sends.pop_front();
  }
}

bool RateLimiter::try_acquire(uid_t uid) {
  const auto now = now_();
  auto& sends = sends_by_uid_[uid];
  forget_older_than_a_minute(sends, now);
  if (sends.size() >= per_minute_) {
    return false;
  }
  sends.push_back(now);
  return true;
}

std::chrono::milliseconds RateLimiter::retry_after(uid_t uid) {
  const auto now = now_();
  auto& sends = sends_by_uid_[uid];
  forget_older_than_a_minute(sends, now);
  if (sends.size() < per_minute_) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::ceil<std::chrono::milliseconds>(sends.front() + std::chrono::minutes(1) -
                                                      now);
}

}  // namespace liaison::daemon
