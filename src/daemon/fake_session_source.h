// A SessionSource for tests: the test sets the sessions and the change fd (a PipeSignal) turns
// readable.
#pragma once

#include <string>
#include <vector>

#include "common/pipe_signal.h"
#include "daemon/session_source.h"

namespace liaison::daemon {

class FakeSessionSource final : public SessionSource {
 public:
  // Replaces the sessions and signals a change, as logind would on login, logout or a switch.
  void set_sessions(std::vector<Session> sessions) {
    sessions_ = std::move(sessions);
    change_.fire();
  }

  std::expected<std::vector<Session>, std::string> list_sessions() override { return sessions_; }
  int change_fd() const override { return change_.fd(); }
  void acknowledge_change() override { change_.drain(); }

 private:
  PipeSignal change_;
  std::vector<Session> sessions_;
};

}  // namespace liaison::daemon
