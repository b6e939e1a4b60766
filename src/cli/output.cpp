#include "cli/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace liaison::cli {

using protocol::Json;

bool stdout_wants_colour() {
  if (::isatty(STDOUT_FILENO) == 0) {
    return false;
  }
  if (const char* no_colour = std::getenv("NO_COLOR"); no_colour != nullptr && *no_colour != 0) {
    return false;
  }
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

std::string coloured(const std::string& text, std::string_view colour, bool enabled) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCodes{
      {{"green", "32"}, {"yellow", "33"}, {"red", "31"}, {"dim", "2"}}};
  if (!enabled) {
    return text;
  }
  for (const auto& [name, code] : kCodes) {
    if (name == colour) {
      return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
    }
  }
  return text;
}

std::string text_of(const Json& value) {
  if (value.is_null()) {
    return "-";
  }
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_boolean()) {
    return value.get<bool>() ? "yes" : "no";
  }
  return value.dump();
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
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
  if (sessions.empty()) {
    return "no eligible sessions\n";
  }
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

namespace {

struct StatusLook {
  std::string_view status;
  std::string_view mark;
  std::string_view colour;
};
constexpr std::array<StatusLook, 4> kStatusLooks{
    {{"ok", "✓", "green"}, {"info", "·", "dim"}, {"warn", "!", "yellow"}, {"fail", "✗", "red"}}};

const StatusLook& look_of(const std::string& status) {
  for (const StatusLook& look : kStatusLooks) {
    if (look.status == status) {
      return look;
    }
  }
  return kStatusLooks.back();
}

struct Counts {
  int failed = 0;
  int warnings = 0;
};

// One line per finding, the check names aligned within the block; a fix under each problem.
std::string format_findings(const Json& findings, bool colour, Counts& counts) {
  std::size_t width = 0;
  for (const Json& f : findings) {
    width = std::max(width, f.value("check", "").size());
  }
  std::string out;
  for (const Json& f : findings) {
    const std::string status = f.value("status", "fail");
    const StatusLook& look = look_of(status);
    if (status == "fail") {
      ++counts.failed;
    }
    if (status == "warn") {
      ++counts.warnings;
    }
    out += fmt::format("  {} {:<{}}  {}\n", coloured(std::string(look.mark), look.colour, colour),
                       f.value("check", ""), width, f.value("detail", ""));
    if (f.contains("hint")) {
      out += fmt::format("    {} {}\n", coloured("fix:", look.colour, colour), text_of(f["hint"]));
    }
  }
  return out;
}

std::string session_heading(const Json& s) {
  std::string heading =
      fmt::format("session {}  {} (uid {})  {}", text_of(s.at("session")), text_of(s.at("user")),
                  text_of(s.at("uid")), text_of(s.at("type")));
  if (const Json& agent = s.at("agent"); !agent.is_null()) {
    heading +=
        fmt::format("  agent {} ({})", text_of(agent.at("state")), text_of(agent.at("strategy")));
  } else if (!s.value("eligible", true)) {
    heading += "  not eligible";
  }
  return heading;
}

}  // namespace

std::string format_doctor(const Json& report, bool colour) {
  Counts counts;
  const Json& daemon = report.at("daemon");
  std::string out = daemon.at("version").is_null()
                        ? std::string("daemon\n")
                        : fmt::format("daemon  liaison {} pid {}  launch strategy {}\n",
                                      text_of(daemon.at("version")), text_of(daemon.at("pid")),
                                      text_of(daemon.at("strategy")));
  out += format_findings(daemon.at("findings"), colour, counts);
  for (const Json& s : report.at("sessions")) {
    out += "\n" + session_heading(s) + "\n";
    out += format_findings(s.at("findings"), colour, counts);
  }
  if (report.at("sessions").empty() && !daemon.at("version").is_null()) {
    out += "\nno sessions\n";
  }
  std::string summary = counts.failed == 0 ? std::string("all checks passed")
                                           : fmt::format("{} check{} failed", counts.failed,
                                                         counts.failed == 1 ? "" : "s");
  if (counts.warnings > 0) {
    summary += fmt::format(", {} warning{}", counts.warnings, counts.warnings == 1 ? "" : "s");
  }
  out += "\n" + coloured(summary, counts.failed > 0 ? "red" : "green", colour) + "\n";
  return out;
}

}  // namespace liaison::cli
