// Where logind keeps its session records, and what names one: shared by the daemon's session
// source and the agent's watch on its own session.
#pragma once

#include <string_view>

namespace liaison::platform {

// One file per session, named by its id, replaced whole (renamed over) on every change.
inline constexpr char kLogindSessionRecords[] = "/run/systemd/sessions";

// Session ids are short alphanumerics ("3", "c12"); anything else is not a file name we build
// (nor a record logind wrote: its temporaries are ".#3abc").
constexpr bool is_logind_session_id(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    const bool alphanumeric =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alphanumeric) {
      return false;
    }
  }
  return true;
}

}  // namespace liaison::platform
