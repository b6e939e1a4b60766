#include "daemon/concurrently.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstddef>
#include <memory>

namespace liaison::daemon {

asio::awaitable<void> run_concurrently(std::vector<ConcurrentTask> tasks) {
  if (tasks.empty()) {
    co_return;
  }
  auto executor = co_await asio::this_coro::executor;
  // The last task to finish cancels the timer this frame waits on. Shared, so a task never
  // touches a frame that is gone.
  auto remaining = std::make_shared<std::size_t>(tasks.size());
  auto all_done =
      std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  for (ConcurrentTask& task : tasks) {
    asio::co_spawn(
        executor,
        [task = std::move(task), remaining, all_done]() -> asio::awaitable<void> {
          co_await task();
          if (--*remaining == 0) {
            all_done->cancel();
          }
        },
        asio::detached);
  }
  // co_spawn posts: no task runs before this frame suspends here, so the last one's cancel()
  // always finds the wait pending.
  while (*remaining > 0) {
    co_await all_done->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
}

}  // namespace liaison::daemon
