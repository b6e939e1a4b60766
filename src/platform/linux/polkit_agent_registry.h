// Whether polkitd has an authentication agent registered for a session (issue 26, `liaison
// doctor`): polkit offers no call that says so without prompting, but polkitd writes every
// registration and unregistration to the journal ("Registered Authentication Agent for
// unix-session:3 (system bus name :1.42 [gnome-shell], ...)", "Unregistered ... (disconnected
// from bus)"). The newest such line of the polkitd now running (its pid, this boot) is the answer.
// Blocking (the system bus, the journal): run off the daemon's loop.
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/finding.h"

namespace liaison::platform {

struct AgentRegistration {
  bool registered = false;  // false: the newest line unregistered it
  std::string bus_name;     // ":1.42"
  std::string program;      // what polkitd saw of its command line (the user's text, bounded)
};

// The registration one polkitd message records for `session_id`, if it is about that session.
std::optional<AgentRegistration> parse_agent_registration(std::string_view message,
                                                          std::string_view session_id);

// The finding "authentication-agent" of each session: ok with the agent, warn without one (a
// presence check would answer no_agent), info when polkitd does not run at all. One walk of the
// journal for all of them.
std::map<std::string, protocol::Finding> authentication_agent_findings(
    const std::vector<std::string>& session_ids);

}  // namespace liaison::platform
