// A Notifier for the agent's unit tests: records what the agent shows and lets the test play the
// user (click an action, dismiss) or the server (expire, fail). Single-threaded, like the agent.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/notifier.h"

namespace liaison::agent {

class FakeNotifier final : public Notifier {
 public:
  struct Shown {
    uint32_t id = 0;
    Notification notification;
  };

  FakeNotifier() = default;
  explicit FakeNotifier(NotifierEvents events) : events_(std::move(events)) {}

  // For agents that make their notifier before they can hand it callbacks into themselves.
  void set_events(NotifierEvents events) { events_ = std::move(events); }

  // Records `notification`. Like a real server, a dedup_id still on screen keeps its id (the
  // notification is replaced); otherwise ids count up from 1.
  std::expected<uint32_t, std::string> show(const Notification& notification) override {
    if (next_show_error_) {
      std::string error = std::move(*next_show_error_);
      next_show_error_.reset();
      return std::unexpected(std::move(error));
    }
    uint32_t id = 0;
    if (auto it = id_by_dedup_id_.find(notification.dedup_id);
        !notification.dedup_id.empty() && it != id_by_dedup_id_.end()) {
      id = it->second;
    } else {
      id = next_id_++;
    }
    if (!notification.dedup_id.empty()) {
      id_by_dedup_id_[notification.dedup_id] = id;
    }
    on_screen_[id] = notification.dedup_id;
    shown_.push_back({id, notification});
    return id;
  }

  // Every show() that succeeded, in order, replacements included.
  const std::vector<Shown>& shown() const { return shown_; }
  const Shown& last_shown() const { return shown_.back(); }
  bool is_on_screen(uint32_t id) const { return on_screen_.contains(id); }

  // Makes the next show() fail with `error` (the server is gone, the bus refused, ...).
  void fail_next_show(std::string error) { next_show_error_ = std::move(error); }

  // The user clicked `action` ("default": the body) of notification `id`.
  void click(uint32_t id, const std::string& action = "default") {
    if (events_.on_action) {
      events_.on_action(id, action);
    }
  }

  // Notification `id` went away; it leaves the screen, so its dedup_id gets a new id next time.
  void close(uint32_t id, CloseReason reason) {
    if (auto it = on_screen_.find(id); it != on_screen_.end()) {
      if (!it->second.empty()) {
        id_by_dedup_id_.erase(it->second);
      }
      on_screen_.erase(it);
    }
    if (events_.on_closed) {
      events_.on_closed(id, reason);
    }
  }

 private:
  NotifierEvents events_;
  std::vector<Shown> shown_;
  std::map<uint32_t, std::string> on_screen_;  // id -> its dedup_id
  std::map<std::string, uint32_t> id_by_dedup_id_;
  std::optional<std::string> next_show_error_;
  uint32_t next_id_ = 1;
};

}  // namespace liaison::agent
