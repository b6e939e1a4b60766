// A transient service of a systemd manager (what `systemd-run` makes), as the arguments of
// org.freedesktop.systemd1.Manager.StartTransientUnit. Building the message costs nothing; the
// caller sends it on whichever connection it has (a user manager's private socket, a bus).
#pragma once

#include <systemd/sd-bus.h>

#include <chrono>
#include <expected>
#include <string>
#include <vector>

namespace liaison::platform {

struct TransientService {
  std::string name;  // "liaison-agent-asuser.service"
  std::string description;
  std::vector<std::string> command;      // argv; command[0] is an absolute path
  std::vector<std::string> environment;  // KEY=VALUE, added to the manager's own
  std::chrono::microseconds stop_timeout{3'000'000};
};

// Appends StartTransientUnit's arguments to `message` (a method call on the manager): the name,
// job mode "replace", a Type=exec service that is collected once it ends however it ends, and
// no auxiliary units. Fails for an empty or relative command, or when sd-bus cannot append.
std::expected<void, std::string> append_transient_service(sd_bus_message* message,
                                                          const TransientService& service);

}  // namespace liaison::platform
