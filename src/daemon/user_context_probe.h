// What `liaison doctor` asks the platform about a user's context from the daemon's side: whether
// the machinery the launch strategy relies on is there, and what a process that merely setuid()s
// to the user would see (the context problem liaison exists to solve). Nothing is changed.
#pragma once

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <map>
#include <string>
#include <vector>

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

  // Finding "authentication-agent" of each session named: whether it has what asks the user
  // in a presence check (Linux: a polkit authentication agent registered for it). Blocking:
  // called off the loop, once per doctor run. Nothing on a platform without such a check yet.
  virtual std::map<std::string, protocol::Finding> check_authentication_agents(
      const std::vector<std::string>& /*session_ids*/) {
    return {};
  }
};

}  // namespace liaison::daemon
