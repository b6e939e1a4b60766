// Apple only. `liaison doctor`'s look from inside the agent on macOS (agent::SessionProbe): the
// finding "notifications" — whether this process is an app bundle's main executable and what
// the user allowed it (UNUserNotificationCenter's settings). The decision is in
// context_findings.cpp (tested on Linux); this only asks the framework.
#pragma once

#include <memory>

#include "agent/session_probe.h"

namespace liaison::platform::macos {

std::unique_ptr<agent::SessionProbe> make_notification_session_probe();

}  // namespace liaison::platform::macos
