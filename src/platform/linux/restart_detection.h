// Whether the SIGTERM this process got is half of a restart of its own system unit
// (`systemctl restart liaison`, or a package upgrade) rather than a stop: systemd queues a job of
// type "restart" on the unit, which PID 1 reports over the system bus while the stop half runs.
#pragma once

#include <chrono>

namespace liaison::platform {

// False when there is no such job, or no system bus to ask (not under systemd, or the bus does
// not answer within `timeout`): then it is a stop.
bool own_unit_is_restarting(std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

}  // namespace liaison::platform
