// daemon::UserContextProbe on Linux: asks a user's service manager (user@UID.service) over its
// private socket whether it runs and what state our agent unit is in, and starts a child that
// only setuid()s to the user to show what such a process finds (usually no session bus at all).
#pragma once

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "daemon/user_context_probe.h"
#include "protocol/finding.h"

namespace liaison::platform {

class LinuxUserContextProbe final : public daemon::UserContextProbe {
 public:
  static constexpr std::chrono::milliseconds kManagerTimeout{2000};
  static constexpr std::chrono::milliseconds kChildDeadline{3000};

  protocol::Finding check_user_manager(uid_t uid, const std::string& strategy) override;

  // Forks (no exec) and drops to the user in the child. Only done while this process has a
  // single thread: after fork() in a threaded process the child may only make
  // async-signal-safe calls, and the session-bus attempt is not one.
  asio::awaitable<protocol::Finding> check_setuid_only_child(uid_t uid) override;

  // polkitd's own journal lines about the session (polkit_agent_registry.h).
  std::map<std::string, protocol::Finding> check_authentication_agents(
      const std::vector<std::string>& session_ids) override;
};

// What a setuid-only child reported (its JSON), as the finding "setuid-only-child" (pure).
protocol::Finding setuid_only_child_finding(const std::string& user, uid_t uid,
                                            const std::string& report);

}  // namespace liaison::platform
