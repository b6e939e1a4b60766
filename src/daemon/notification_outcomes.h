// What became of the notifications agents showed: which action the user clicked and how each one
// closed, as agents report them. `notify --wait-action` waits here. An event may arrive before
// anyone waits for it (the agent's events follow its reply on the same socket, back to back), so
// recent events are kept for a while, bounded, and a late waiter finds them.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace liaison::daemon {

struct NotificationOutcome {
  std::optional<std::string> action;  // the clicked action's id, "default" for the body
  std::optional<std::string> closed;  // expired, dismissed, closed, undefined
};

class NotificationOutcomes {
 public:
  // After an action, how long to wait for the close that usually follows it.
  static constexpr std::chrono::milliseconds kCloseAfterActionGrace{1000};
  static constexpr std::size_t kMaxRemembered = 1024;

  explicit NotificationOutcomes(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  void record_action(const std::string& session, uint32_t notification_id, std::string action);
  void record_closed(const std::string& session, uint32_t notification_id, std::string reason);

  // Waits until the notification closed, or `timeout` passed, or an action came and the grace for
  // its close passed. Returns what was seen; both fields null on timeout with no event.
  asio::awaitable<NotificationOutcome> wait(std::string session, uint32_t notification_id,
                                            std::chrono::milliseconds timeout);

 private:
  using Key = std::pair<std::string, uint32_t>;
  struct Entry {
    NotificationOutcome outcome;
    asio::steady_timer* waiter = nullptr;  // set while someone waits; woken on every event
  };

  Entry& entry_for(const Key& key);
  void wake(Entry& entry);

  asio::any_io_executor executor_;
  std::map<Key, Entry> entries_;
  std::deque<Key> arrival_order_;  // for forgetting the oldest unwatched entries
};

}  // namespace liaison::daemon
