#include "cli/output.h"

#include <fmt/format.h>

#include <algorithm>

namespace liaison::cli {

using protocol::Json;

std::string text_of(const Json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  return value.dump();
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}  ", row[i], widths[i]);
    }
    out += line + '\n';
  }
  return out;
}

std::string format_sessions(const Json& sessions) {
  if (sessions.empty()) return "no eligible sessions\n";
  std::vector<std::vector<std::string>> rows = {
      {"SESSION", "USER", "UID", "TYPE", "SEAT", "ACTIVE", "AGENT", "PID", "STRATEGY", "SINCE"}};
  for (const Json& s : sessions) {
    const Json& agent = s.at("agent");
    rows.push_back({text_of(s.at("session")), text_of(s.at("user")), text_of(s.at("uid")),
                    text_of(s.at("type")), text_of(s.at("seat")), text_of(s.at("active")),
                    text_of(agent.at("state")), text_of(agent.at("pid")),
                    text_of(agent.at("strategy")), text_of(agent.at("since"))});
  }
  return format_table(rows);
}

std::string format_notify_results(const Json& results) {
  std::string out;
  for (const Json& r : results.at("results")) {
    const std::string who =
        r.at("session").is_null()
            ? text_of(r.at("user"))
            : fmt::format("{} (session {})", text_of(r.at("user")), text_of(r.at("session")));
    if (!r.at("delivered").get<bool>()) {
      out += fmt::format("failed for {}: {}\n", who, text_of(r.at("error").at("message")));
      continue;
    }
    out += fmt::format("delivered to {} as notification {}", who, text_of(r.at("notification_id")));
    if (r.contains("action")) {
      if (!r.at("action").is_null()) {
        out += fmt::format("; clicked: {}", text_of(r.at("action")));
      } else if (!r.at("closed").is_null()) {
        out += fmt::format("; closed ({}) without an action", text_of(r.at("closed")));
      } else {
        out += "; no answer in time";
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace liaison::cli
