#include "daemon/rate_limiter.h"

#include <gtest/gtest.h>

namespace liaison::daemon {
namespace {

using namespace std::chrono_literals;

class RateLimiterTest : public testing::Test {
 protected:
  RateLimiter::Clock::time_point now_{};
  RateLimiter limiter_{3, [this] { return now_; }};
};

TEST_F(RateLimiterTest, AllowsTheConfiguredNumberPerMinute) {
  EXPECT_TRUE(limiter_.try_acquire(1000));
  EXPECT_TRUE(limiter_.try_acquire(1000));
  EXPECT_TRUE(limiter_.try_acquire(1000));
  EXPECT_FALSE(limiter_.try_acquire(1000));
}

TEST_F(RateLimiterTest, CountsEachUserSeparately) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter_.try_acquire(1000));
  }
  EXPECT_FALSE(limiter_.try_acquire(1000));
  EXPECT_TRUE(limiter_.try_acquire(1001));
}

TEST_F(RateLimiterTest, TheWindowSlides) {
  ASSERT_TRUE(limiter_.try_acquire(1000));
  now_ += 30s;
  ASSERT_TRUE(limiter_.try_acquire(1000));
  ASSERT_TRUE(limiter_.try_acquire(1000));
  ASSERT_FALSE(limiter_.try_acquire(1000));
  EXPECT_EQ(limiter_.retry_after(1000), 30s);
  now_ += 30s;  // the first send is a minute old now
  EXPECT_EQ(limiter_.retry_after(1000), 0ms);
  EXPECT_TRUE(limiter_.try_acquire(1000));
  EXPECT_FALSE(limiter_.try_acquire(1000));
}

TEST_F(RateLimiterTest, RefusedAttemptsDoNotCount) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter_.try_acquire(1000));
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(limiter_.try_acquire(1000));
  }
  now_ += 60s;
  EXPECT_TRUE(limiter_.try_acquire(1000)) << "hammering while limited must not extend the limit";
}

// Issue 24: the limiter once kept an entry for every uid it ever saw, refused or not: a user
// with a 65536-uid subordinate range made 65k entries, and 655k journal lines a minute.
TEST_F(RateLimiterTest, ForgetsUidsWhoseSendsAreOverAMinuteOld) {
  for (uid_t uid = 100'000; uid < 110'000; ++uid) {
    ASSERT_TRUE(limiter_.try_acquire(uid));
  }
  EXPECT_EQ(limiter_.uids_tracked(), 10'000u);
  now_ += 61s;
  EXPECT_TRUE(limiter_.try_acquire(1000));
  EXPECT_EQ(limiter_.uids_tracked(), 1u);
}

TEST(RateLimiter, AGlobalCapBoundsAllUidsTogetherAndRefusalsKeepNothing) {
  RateLimiter::Clock::time_point now{};
  RateLimiter limiter(
      10, [&] { return now; }, /*global_per_minute=*/100);
  uint32_t accepted = 0;
  for (uid_t uid = 100'000; uid < 165'536; ++uid) {
    accepted += limiter.try_acquire(uid) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 100u);
  EXPECT_EQ(limiter.uids_tracked(), 100u) << "a refused uid leaves no entry";
  now += 60s;
  EXPECT_TRUE(limiter.try_acquire(1000)) << "the global window slides too";
  EXPECT_EQ(limiter.uids_tracked(), 1u);
}

}  // namespace
}  // namespace liaison::daemon
