// A SessionSource for tests: the test sets the sessions and the change fd (an eventfd) fires.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "common/unique_fd.h"
#include "daemon/session_source.h"

namespace liaison::daemon {

class FakeSessionSource final : public SessionSource {
 public:
  FakeSessionSource() : change_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

  // Replaces the sessions and signals a change, as logind would on login, logout or a switch.
  void set_sessions(std::vector<Session> sessions) {
    sessions_ = std::move(sessions);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(change_.get(), &one, sizeof(one));
  }

  std::expected<std::vector<Session>, std::string> list_sessions() override { return sessions_; }
  int change_fd() const override { return change_.get(); }
  void acknowledge_change() override {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t got = ::read(change_.get(), &count, sizeof(count));
  }

 private:
  UniqueFd change_;
  std::vector<Session> sessions_;
};

}  // namespace liaison::daemon
