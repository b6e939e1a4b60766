// A SessionProbe for tests: reports whatever findings the test sets, and counts the calls.
#pragma once

#include <utility>
#include <vector>

#include "agent/session_probe.h"

namespace liaison::agent {

class FakeSessionProbe final : public SessionProbe {
 public:
  explicit FakeSessionProbe(std::vector<protocol::Finding> findings)
      : findings_(std::move(findings)) {}

  std::vector<protocol::Finding> examine() override {
    ++calls_;
    return findings_;
  }

  int calls() const { return calls_; }

 private:
  std::vector<protocol::Finding> findings_;
  int calls_ = 0;
};

}  // namespace liaison::agent
