// Runs calls that may wait on something a user controls (their own service manager, which they
// can stall or impersonate) off the daemon's loop: each call on a thread of its own, its result
// handed back to `done` on the loop. Nothing on the loop ever waits for a call; a user who stalls
// stalls only their own agent.
//
// Calls are never abandoned: each must bound itself (every user-manager call has its sd-bus
// deadline, a launch does not wait for execve), so the destructor, which joins what still runs,
// waits at most that long. Results that arrive after the OffLoop is gone are dropped. Costs one
// thread start per call (tens of microseconds), a price only paid for launches and signals.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace liaison::daemon {

class OffLoop {
 public:
  explicit OffLoop(asio::any_io_executor loop) : loop_(std::move(loop)) {}
  OffLoop(const OffLoop&) = delete;
  OffLoop& operator=(const OffLoop&) = delete;

  ~OffLoop() {
    {
      std::lock_guard lock(shared_->mutex);
      shared_->alive = false;
    }
    for (auto& [id, thread] : threads_) {
      thread.join();
    }
  }

  // Runs `call` on a new thread; `done` gets its result on the loop. `call` must not touch what
  // the loop changes without a lock of its own.
  template <typename Result>
  void run(std::function<Result()> call, std::function<void(Result)> done) {
    const uint64_t id = next_id_++;
    // Counted as work of the loop until the result is posted: a loop with nothing else to do
    // must wait for it rather than return from run().
    asio::any_io_executor work = asio::prefer(loop_, asio::execution::outstanding_work.tracked);
    threads_.emplace(id, std::thread([this, shared = shared_, id, work = std::move(work),
                                      call = std::move(call), done = std::move(done)]() mutable {
                       Result result = call();
                       std::lock_guard lock(shared->mutex);
                       if (!shared->alive) {
                         return;  // the owner is going: it joins this thread and wants nothing back
                       }
                       asio::post(work, [this, shared, id, done = std::move(done),
                                         result = std::move(result)]() mutable {
                         if (!shared->alive) {
                           return;
                         }
                         // The thread has posted this and is about to end: the join is immediate.
                         if (auto thread = threads_.find(id); thread != threads_.end()) {
                           thread->second.join();
                           threads_.erase(thread);
                         }
                         done(std::move(result));
                       });
                     }));
  }

  // Calls still running or not yet delivered.
  std::size_t pending() const { return threads_.size(); }

 private:
  struct Shared {
    std::mutex mutex;
    bool alive = true;  // written under the mutex on the loop; read under it by the threads
  };

  asio::any_io_executor loop_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::map<uint64_t, std::thread> threads_;  // touched on the loop only
  uint64_t next_id_ = 0;
};

// The same for one call of a coroutine on the loop: runs `work` on a thread of its own and
// resumes with its result, while the loop serves everyone else. Should the coroutine be
// destroyed first (its io_context shutting down), the thread is joined there.
template <typename Result>
asio::awaitable<Result> run_off_loop(std::function<Result()> work) {
  auto executor = co_await asio::this_coro::executor;
  struct Outcome {
    explicit Outcome(const asio::any_io_executor& loop)
        : ready(loop, asio::steady_timer::time_point::max()) {}
    asio::steady_timer ready;
    std::optional<Result> result;
  };
  auto outcome = std::make_shared<Outcome>(executor);
  OffLoop runner(executor);
  runner.run<Result>(std::move(work), [outcome](Result result) {
    outcome->result = std::move(result);
    outcome->ready.cancel();
  });
  std::optional<Result>& result = outcome->result;
  for (;;) {
    if (result.has_value()) {
      co_return std::move(*result);
    }
    co_await outcome->ready.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
}

}  // namespace liaison::daemon
