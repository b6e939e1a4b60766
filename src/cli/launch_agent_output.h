// What `liaison launch-agent …` prints without --json: who it is installed for, then one line per
// session with its unit and its agent.
#pragma once

#include <string>

#include "protocol/json_rpc.h"

namespace liaison::cli {

std::string format_launch_agent_report(const protocol::Json& report);

}  // namespace liaison::cli
