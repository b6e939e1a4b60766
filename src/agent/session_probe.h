// What the agent finds out about its own session's context for `liaison doctor`: whether the
// session bus is reachable, and which notification server answers on it with what capabilities
// (Linux); whether notifications are authorized for the app (macOS). Read-only: nothing is
// shown or changed. A few round trips to the session bus (milliseconds; at most a couple of
// seconds when a server hangs).
#pragma once

#include <vector>

#include "protocol/finding.h"

namespace liaison::agent {

class SessionProbe {
 public:
  virtual ~SessionProbe() = default;

  // Findings "session-bus" and "notification-server" (Linux), "notifications" (macOS).
  virtual std::vector<protocol::Finding> examine() = 0;
};

}  // namespace liaison::agent
