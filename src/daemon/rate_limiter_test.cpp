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

}  // namespace
}  // namespace liaison::daemon
