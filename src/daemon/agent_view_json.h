// How the control methods show an agent (sessions.list, doctor; docs/cli-json.md): one shape,
// one place.
#pragma once

#include <chrono>
#include <string>

#include "daemon/agent_supervisor.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {

// UTC to the second, as every timestamp on the wire: "2026-11-29T15:33:30Z".
std::string iso8601(std::chrono::system_clock::time_point time);

// {"state", "pid" (null when none), "strategy", "since"}.
protocol::Json agent_json(const AgentView& view);

}  // namespace liaison::daemon
