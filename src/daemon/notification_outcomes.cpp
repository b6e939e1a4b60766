#include "daemon/notification_outcomes.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace liaison::daemon {

NotificationOutcomes::Entry& NotificationOutcomes::entry_for(const Key& key) {
  auto [it, inserted] = entries_.try_emplace(key);
  if (inserted) {
    arrival_order_.push_back(key);
    while (arrival_order_.size() > kMaxRemembered) {
      auto oldest = entries_.find(arrival_order_.front());
      if (oldest != entries_.end() && oldest->second.waiter != nullptr) {
        break;  // still wanted
      }
      if (oldest != entries_.end()) {
        entries_.erase(oldest);
      }
      arrival_order_.pop_front();
    }
  }
  return it->second;
}

void NotificationOutcomes::wake(Entry& entry) {
  if (entry.waiter != nullptr) {
    entry.waiter->cancel();
  }
}

void NotificationOutcomes::record_action(const std::string& session, uint32_t notification_id,
                                         std::string action) {
  Entry& entry = entry_for({session, notification_id});
  if (!entry.outcome.action) {
    entry.outcome.action = std::move(action);
  }
  wake(entry);
}

void NotificationOutcomes::record_closed(const std::string& session, uint32_t notification_id,
                                         std::string reason) {
  Entry& entry = entry_for({session, notification_id});
  if (!entry.outcome.closed) {
    entry.outcome.closed = std::move(reason);
  }
  wake(entry);
}

asio::awaitable<NotificationOutcome> NotificationOutcomes::wait(std::string session,
                                                                uint32_t notification_id,
                                                                std::chrono::milliseconds timeout) {
  const Key key{std::move(session), notification_id};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool grace_started = false;
  asio::steady_timer timer(executor_);
  entry_for(key).waiter = &timer;
  for (;;) {
    Entry& entry = entries_.at(key);
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
  auto found = entries_.find(key);
  NotificationOutcome outcome = found->second.outcome;
  entries_.erase(found);  // one waiter per notification: the outcome is delivered, forget it
  co_return outcome;
}

}  // namespace liaison::daemon
