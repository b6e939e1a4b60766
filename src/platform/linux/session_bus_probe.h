// agent::SessionProbe on Linux: opens its own connection to the session bus the agent runs on and
// asks the notification server who it is (GetServerInformation) and what it can do
// (GetCapabilities). Read-only; two round trips (up to 5 s each when a server hangs).
#pragma once

#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "agent/session_probe.h"
#include "platform/linux/dbus_notifier.h"
#include "platform/linux/sd_bus_ptr.h"

namespace liaison::platform {

class SessionBusProbe final : public agent::SessionProbe {
 public:
  using BusOpener = std::function<std::expected<SdBusPtr, std::string>()>;

  // `open_bus`: the session bus of this process's session (sd_bus_open_user) by default; tests
  // hand in a private bus.
  explicit SessionBusProbe(BusOpener open_bus = open_session_bus)
      : open_bus_(std::move(open_bus)) {}

  // "session-bus" and, when the bus is reachable, "notification-server".
  std::vector<protocol::Finding> examine() override;

 private:
  BusOpener open_bus_;
};

}  // namespace liaison::platform
