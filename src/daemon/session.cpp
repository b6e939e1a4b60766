#include "daemon/session.h"

#include <fmt/format.h>

namespace liaison::daemon {
namespace {

// "aqua" is a macOS GUI login (a CGSession), as platform/macos reports it.
bool is_graphical_type(const std::string& type) {
  return type == "x11" || type == "wayland" || type == "mir" || type == "aqua";
}

// Text sessions: logind says "tty" for a console login and "unspecified" when PAM gave no type
// (ssh, su, cron); both are eligible only when the config asks for them.
bool is_text_type(const std::string& type) { return type == "tty" || type == "unspecified"; }

// An empty field prints as "(none)" so the reason never ends in a dangling space.
std::string or_none(const std::string& value) { return value.empty() ? "(none)" : value; }

}  // namespace

std::string ineligibility_reason(const Session& session, const EligibilityRules& rules) {
  if (session.session_class != "user") {
    return fmt::format("class {}", or_none(session.session_class));
  }
  if (is_text_type(session.type)) {
    if (!rules.include_tty) {
      return fmt::format("type {} (include_tty is off)", session.type);
    }
  } else if (!is_graphical_type(session.type)) {
    return fmt::format("type {}", or_none(session.type));
  }
  if (session.state != "active" && session.state != "online") {
    return fmt::format("state {}", or_none(session.state));
  }
  if (session.remote && !rules.include_remote) {
    return "remote session (include_remote is off)";
  }
  if (session.uid < rules.min_uid) {
    return fmt::format("uid {} below min_uid {}", session.uid, rules.min_uid);
  }
  return {};
}

}  // namespace liaison::daemon
