// A SessionWatch for tests: the test ends the session and the change fd (an eventfd) fires.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "agent/session_watch.h"
#include "common/unique_fd.h"

namespace liaison::agent {

class FakeSessionWatch final : public SessionWatch {
 public:
  FakeSessionWatch() : change_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

  void end_session() {
    ended_ = true;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(change_.get(), &one, sizeof(one));
  }

  int change_fd() const override { return change_.get(); }
  void acknowledge_change() override {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t got = ::read(change_.get(), &count, sizeof(count));
  }
  bool session_ended() override { return ended_; }

 private:
  UniqueFd change_;
  bool ended_ = false;
};

}  // namespace liaison::agent
