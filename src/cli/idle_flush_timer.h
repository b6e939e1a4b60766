// The timer behind KeyProviders' idle flush (key_providers.h): one-shot, armed by each use of
// the TPM, firing a second after a key could have gone idle, and re-armed only while keys stay
// loaded. So it exists only while a key is loaded: an idle daemon or agent has no timer to wake
// for. Lives with the process's event loop, on whichever side of a module boundary that is.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>

namespace liaison::cli {

class IdleFlushTimer {
 public:
  // `flush` flushes idle keys and says whether any stay loaded. `after`: the keys' idle time.
  IdleFlushTimer(asio::io_context& io, std::chrono::steady_clock::duration after,
                 std::function<bool()> flush)
      : timer_(io), after_(after + std::chrono::seconds(1)), flush_(std::move(flush)) {}

  // (Re)starts the countdown; a countdown already running starts over.
  void arm() {
    timer_.expires_after(after_);
    timer_.async_wait([this](const std::error_code& error) {
      if (!error && flush_()) {
        arm();
      }
    });
  }

 private:
  asio::steady_timer timer_;
  std::chrono::steady_clock::duration after_;
  std::function<bool()> flush_;
};

}  // namespace liaison::cli
