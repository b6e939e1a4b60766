// Tells a long request that its caller hung up, so it can withdraw what it started (a prompt on
// someone's screen) instead of finishing for nobody. One per control connection; the
// connection's close handler calls hang_up().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace liaison::daemon {

class HangUpNotice : public std::enable_shared_from_this<HangUpNotice> {
 public:
  // While it lives, hang_up() calls its callback; destroying it unsubscribes.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(std::weak_ptr<HangUpNotice> notice, uint64_t id)
        : notice_(std::move(notice)), id_(id) {}
    Subscription(Subscription&& other) noexcept
        : notice_(std::move(other.notice_)), id_(other.id_) {}
    Subscription& operator=(Subscription&&) = delete;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription() {
      if (auto notice = notice_.lock()) {
        notice->callbacks_.erase(id_);
      }
    }

   private:
    std::weak_ptr<HangUpNotice> notice_;
    uint64_t id_ = 0;
  };

  static std::shared_ptr<HangUpNotice> create() { return std::make_shared<HangUpNotice>(); }

  bool hung_up() const { return hung_up_; }

  // Calls `callback` when the caller hangs up (at once if it has already).
  [[nodiscard]] Subscription subscribe(std::function<void()> callback) {
    if (hung_up_) {
      callback();
      return {};
    }
    const uint64_t id = next_id_++;
    callbacks_.emplace(id, std::move(callback));
    return {weak_from_this(), id};
  }

  // Runs every subscriber once; later subscribers are called as they come.
  void hang_up() {
    if (hung_up_) {
      return;
    }
    hung_up_ = true;
    auto callbacks = std::move(callbacks_);
    callbacks_.clear();
    for (auto& [id, callback] : callbacks) {
      callback();
    }
  }

 private:
  std::map<uint64_t, std::function<void()>> callbacks_;
  uint64_t next_id_ = 1;
  bool hung_up_ = false;
};

}  // namespace liaison::daemon
