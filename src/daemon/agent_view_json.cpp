#include "daemon/agent_view_json.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace liaison::daemon {

std::string iso8601(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(time));
}

protocol::Json agent_json(const AgentView& view) {
  using protocol::Json;
  return {{"state", agent_state_name(view.state)},
          {"pid", view.pid == 0 ? Json(nullptr) : Json(view.pid)},
          {"strategy", view.strategy},
          {"since", iso8601(view.since)}};
}

}  // namespace liaison::daemon
