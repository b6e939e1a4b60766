// What `liaison doctor` asks the platform about a user's context from the daemon's side: whether
// the machinery the launch strategy relies on is there, and what a process that merely setuid()s
// to the user would see (the context problem liaison exists to solve). Nothing is changed.
#pragma once

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <optional>
#include <string>

#include "protocol/finding.h"

namespace liaison::daemon {

class UserContextProbe {
 public:
  virtual ~UserContextProbe() = default;

  // Finding "user-manager": whether what `strategy` ("asuser", "launch-agent") starts agents
  // through is there for `uid` (Linux: user@UID.service running; macOS: the gui/UID domain).
  // One round trip to the service manager.
  virtual protocol::Finding check_user_manager(uid_t uid, const std::string& strategy) = 0;

  // Finding "setuid-only-child": starts a child that only drops to `uid` (groups, gid, uid) and
  // keeps the daemon's environment, as a naive root daemon would, and reports what it saw when
  // it tried the session bus. Status kInfo either way: it shows the problem, it is not one.
  // Takes up to a couple of seconds (a process start and its deadline); does not block the loop.
  virtual asio::awaitable<protocol::Finding> check_setuid_only_child(uid_t uid) = 0;

  // Finding "authentication-agent": whether the session has what asks the user in a presence
  // check (Linux: a polkit authentication agent registered for it). Blocking: called off the
  // loop. Nothing on a platform that has no such check yet.
  virtual std::optional<protocol::Finding> check_authentication_agent(
      const std::string& /*session_id*/) {
    return std::nullopt;
  }
};

}  // namespace liaison::daemon
