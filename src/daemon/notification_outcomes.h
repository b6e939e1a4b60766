// What became of the notifications agents showed: which action the user clicked and how each one
// closed, as agents report them. `notify --wait-action` waits here.
//
// An agent's reports are not trusted beyond what it was asked: an event counts only for a
// notification the daemon asked that very agent to show (expect(), when its `notify` answered),
// an action only if it was offered, a close reason only from the specification's list. So a
// hijacked agent can neither grow this table nor answer for another agent's notifications, and
// the table holds at most kMaxRemembered notifications besides those being waited for.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace liaison::daemon {

struct NotificationOutcome {
  std::optional<std::string> action;  // the clicked action's id, "default" for the body
  std::optional<std::string> closed;  // expired, dismissed, closed, undefined
};

class NotificationOutcomes {
 public:
  // After an action, how long to wait for the close that usually follows it.
  static constexpr std::chrono::milliseconds kCloseAfterActionGrace{1000};
  // Shown notifications remembered for a late waiter, oldest forgotten first (waited-for ones
  // are never forgotten; they end with their wait).
  static constexpr std::size_t kMaxRemembered = 1024;

  explicit NotificationOutcomes(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // `agent` showed notification `notification_id` offering `actions` (ids; "default", a click on
  // the body, is always allowed): from now on its events for that id count.
  void expect(const std::string& agent, uint32_t notification_id,
              const std::vector<std::string>& actions);

  // An agent's report. False (and nothing recorded) when the agent was not asked to show that
  // notification, or the action was not offered.
  bool record_action(const std::string& agent, uint32_t notification_id, std::string_view action);
  // A reason outside the specification's list is recorded as "undefined".
  bool record_closed(const std::string& agent, uint32_t notification_id, std::string_view reason);

  // Waits until the notification closed, or `timeout` passed, or an action came and the grace for
  // its close passed. Returns what was seen; both fields null on timeout with no event. Any
  // number of waits may share one notification; each ends by its own deadline.
  asio::awaitable<NotificationOutcome> wait(std::string agent, uint32_t notification_id,
                                            std::chrono::milliseconds timeout);

  std::size_t remembered() const { return entries_.size(); }
  // Keys kept in arrival order: always remembered(), however entries went (a test checks it).
  std::size_t arrival_order_size() const { return by_arrival_.size(); }

 private:
  using Key = std::pair<std::string, uint32_t>;
  struct Entry {
    NotificationOutcome outcome;
    std::set<std::string> actions;  // offered, "default" included
    std::vector<asio::steady_timer*> waiters;
    uint64_t arrival = 0;  // its key in by_arrival_
  };

  void forget_oldest_unwatched();
  void erase(std::map<Key, Entry>::iterator entry);
  static void wake(Entry& entry);

  asio::any_io_executor executor_;
  std::map<Key, Entry> entries_;
  // Every entry's key by when it was shown, for forgetting the oldest unwatched ones; an entry
  // leaves both maps at once (erase()), so neither outgrows the other.
  std::map<uint64_t, Key> by_arrival_;
  uint64_t next_arrival_ = 0;
};

}  // namespace liaison::daemon
