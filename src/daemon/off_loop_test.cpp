#include "daemon/off_loop.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <future>

namespace liaison::daemon {
namespace {

using namespace std::chrono_literals;

// A call that blocks until the test lets it go, as a user's service manager that does not
// answer makes a call block until its deadline.
struct HeldCall {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
};

TEST(OffLoop, TheLoopRunsOnWhileACallBlocksAndGetsItsResultAfter) {
  asio::io_context io;
  OffLoop off_loop(io.get_executor());
  HeldCall held;
  std::optional<int> result;
  off_loop.run<int>(
      [released = held.released] {
        released.wait();
        return 42;
      },
      [&](int value) { result = value; });
  bool timer_fired = false;
  asio::steady_timer timer(io, 10ms);
  timer.async_wait([&](std::error_code) { timer_fired = true; });
  io.run_for(100ms);
  EXPECT_TRUE(timer_fired) << "the loop served its timer while the call was held";
  EXPECT_FALSE(result.has_value());
  EXPECT_EQ(off_loop.pending(), 1u);
  held.release.set_value();
  for (int i = 0; i < 500 && !result; ++i) {
    io.run_for(5ms);
  }
  EXPECT_EQ(result, 42);
  EXPECT_EQ(off_loop.pending(), 0u);
}

TEST(OffLoop, ALoopWithNothingElseWaitsForTheResult) {
  asio::io_context io;
  OffLoop off_loop(io.get_executor());
  std::optional<int> result;
  off_loop.run<int>(
      [] {
        std::this_thread::sleep_for(20ms);
        return 7;
      },
      [&](int value) { result = value; });
  io.run();  // returns only once the result was delivered: the call counts as the loop's work
  EXPECT_EQ(result, 7);
}

TEST(OffLoop, ResultsArrivingAfterItsOwnerIsGoneAreDropped) {
  asio::io_context io;
  std::atomic<bool> delivered = false;
  HeldCall held;
  {
    OffLoop off_loop(io.get_executor());
    off_loop.run<int>(
        [released = held.released] {
          released.wait();
          return 1;
        },
        [&](int) { delivered = true; });
    held.release.set_value();
  }  // joined here
  io.run_for(50ms);
  EXPECT_FALSE(delivered);
}

TEST(OffLoop, ACoroutineAwaitsACallWhileTheLoopServesOthers) {
  asio::io_context io;
  HeldCall held;
  std::optional<std::string> result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Named, not a temporary of the co_await expression: g++ 12 mis-destroys those.
        std::function<std::string()> work = [released = held.released] {
          released.wait();
          return std::string("answered");
        };
        result = co_await run_off_loop<std::string>(std::move(work));
      },
      asio::detached);
  int ticks = 0;
  asio::steady_timer timer(io, 5ms);
  std::function<void(std::error_code)> tick = [&](std::error_code) {
    if (++ticks < 5) {
      timer.expires_after(5ms);
      timer.async_wait(tick);
    }
  };
  timer.async_wait(tick);
  io.run_for(100ms);
  EXPECT_EQ(ticks, 5);
  EXPECT_FALSE(result.has_value());
  held.release.set_value();
  for (int i = 0; i < 500 && !result; ++i) {
    io.run_for(5ms);
  }
  EXPECT_EQ(result, "answered");
}

}  // namespace
}  // namespace liaison::daemon
