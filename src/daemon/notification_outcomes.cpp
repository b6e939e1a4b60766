#include "daemon/notification_outcomes.h"

#include <algorithm>
#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace liaison::daemon {
namespace {

// The close reasons of the Desktop Notifications specification, as the agent names them.
constexpr std::array<std::string_view, 4> kCloseReasons = {"expired", "dismissed", "closed",
                                                           "undefined"};

}  // namespace

void NotificationOutcomes::expect(const std::string& agent, uint32_t notification_id,
                                  const std::vector<std::string>& actions) {
  const Key key{agent, notification_id};
  auto [it, inserted] = entries_.try_emplace(key);
  it->second.actions.insert(actions.begin(), actions.end());
  it->second.actions.insert("default");
  if (inserted) {
    it->second.arrival = next_arrival_++;
    by_arrival_.emplace(it->second.arrival, key);
    forget_oldest_unwatched();
  }
}

// Entries being waited for stay (they end with their wait): at most kMaxRemembered others do.
void NotificationOutcomes::forget_oldest_unwatched() {
  for (auto oldest = by_arrival_.begin();
       entries_.size() > kMaxRemembered && oldest != by_arrival_.end();) {
    auto entry = entries_.find(oldest->second);
    ++oldest;  // before erase() invalidates it
    if (entry->second.waiters.empty()) {
      erase(entry);
    }
  }
}

void NotificationOutcomes::erase(std::map<Key, Entry>::iterator entry) {
  by_arrival_.erase(entry->second.arrival);
  entries_.erase(entry);
}

void NotificationOutcomes::wake(Entry& entry) {
  for (asio::steady_timer* waiter : entry.waiters) {
    waiter->cancel();
  }
}

bool NotificationOutcomes::record_action(const std::string& agent, uint32_t notification_id,
                                         std::string_view action) {
  auto found = entries_.find({agent, notification_id});
  if (found == entries_.end() || !found->second.actions.contains(std::string(action))) {
    return false;
  }
  Entry& entry = found->second;
  if (!entry.outcome.action) {
    entry.outcome.action = std::string(action);
  }
  wake(entry);
  return true;
}

bool NotificationOutcomes::record_closed(const std::string& agent, uint32_t notification_id,
                                         std::string_view reason) {
  auto found = entries_.find({agent, notification_id});
  if (found == entries_.end()) {
    return false;
  }
  Entry& entry = found->second;
  if (!entry.outcome.closed) {
    const bool known = std::ranges::find(kCloseReasons, reason) != kCloseReasons.end();
    entry.outcome.closed = std::string(known ? reason : "undefined");
  }
  wake(entry);
  return true;
}

asio::awaitable<NotificationOutcome> NotificationOutcomes::wait(std::string agent,
                                                                uint32_t notification_id,
                                                                std::chrono::milliseconds timeout) {
  const Key key{std::move(agent), notification_id};
  auto found = entries_.find(key);
  if (found == entries_.end()) {
    co_return NotificationOutcome{};  // never shown by that agent (or long forgotten)
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool grace_started = false;
  asio::steady_timer timer(executor_);
  // The entry stays while it has a waiter (nothing erases a watched entry), and a std::map entry
  // does not move: the reference holds for the whole wait.
  Entry& entry = found->second;
  entry.waiters.push_back(&timer);
  for (;;) {
    if (entry.outcome.closed) {
      break;
    }
    if (entry.outcome.action && !grace_started) {
      grace_started = true;
      deadline = std::min(deadline, std::chrono::steady_clock::now() + kCloseAfterActionGrace);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    timer.expires_at(deadline);
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  NotificationOutcome outcome = entry.outcome;
  std::erase(entry.waiters, &timer);
  if (entry.waiters.empty()) {
    erase(found);  // delivered to every waiter: forget it
  }
  co_return outcome;
}

}  // namespace liaison::daemon
