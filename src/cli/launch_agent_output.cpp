#include "cli/launch_agent_output.h"

#include <fmt/format.h>

#include "cli/output.h"

namespace liaison::cli {
namespace {

using protocol::Json;

std::string installed_for(const Json& installed) {
  if (installed.value("all", false)) {
    return "all users";
  }
  std::string users;
  for (const Json& user : installed.at("users")) {
    users += fmt::format("{}{}", users.empty() ? "" : ", ", text_of(user.at("user")));
  }
  return users.empty() ? "nobody (not installed)" : users;
}

}  // namespace

std::string format_launch_agent_report(const Json& report) {
  std::string out =
      fmt::format("{} ({}) is installed for {}; [agent] launch = \"{}\"",
                  text_of(report.at("unit")), text_of(report.at("command")),
                  installed_for(report.at("installed")), text_of(report.at("strategy")));
  if (report.contains("changed")) {
    out += report.at("changed").get<bool>() ? "; changed" : "; unchanged";
  }
  out += "\n";
  if (report.at("sessions").empty()) {
    return out + "no eligible sessions\n";
  }
  std::vector<std::vector<std::string>> rows = {
      {"SESSION", "USER", "INSTALLED", "UNIT", "UNIT PID", "AGENT", "PID", "STRATEGY"}};
  for (const Json& s : report.at("sessions")) {
    const Json& unit = s.at("unit");
    const Json& agent = s.at("agent");
    rows.push_back({text_of(s.at("session")), text_of(s.at("user")), text_of(s.at("installed")),
                    text_of(unit.at("active_state")), text_of(unit.at("pid")),
                    text_of(agent.at("state")), text_of(agent.at("pid")),
                    text_of(agent.at("strategy"))});
  }
  return out + format_table(rows);
}

}  // namespace liaison::cli
