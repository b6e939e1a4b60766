// A SessionWatch for tests: the test ends the session and the change fd (a PipeSignal)
// turns readable.
#pragma once

#include "agent/session_watch.h"
#include "common/pipe_signal.h"

namespace liaison::agent {

class FakeSessionWatch final : public SessionWatch {
 public:
  void end_session() {
    ended_ = true;
    change_.fire();
  }

  int change_fd() const override { return change_.fd(); }
  void acknowledge_change() override { change_.drain(); }
  bool session_ended() override { return ended_; }

 private:
  PipeSignal change_;
  bool ended_ = false;
};

}  // namespace liaison::agent
