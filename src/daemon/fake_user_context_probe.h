// A UserContextProbe for tests: answers what the test set, per uid, and records what was asked.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/user_context_probe.h"

namespace liaison::daemon {

class FakeUserContextProbe final : public UserContextProbe {
 public:
  protocol::Finding check_user_manager(uid_t uid, const std::string& strategy) override {
    manager_checks.emplace_back(uid, strategy);
    return protocol::Finding::ok("user-manager", "fake manager of " + std::to_string(uid));
  }

  asio::awaitable<protocol::Finding> check_setuid_only_child(uid_t uid) override {
    child_checks.push_back(uid);
    co_return protocol::Finding::info("setuid-only-child",
                                      "fake child of " + std::to_string(uid) + ": no bus");
  }

  std::optional<protocol::Finding> check_authentication_agent(
      const std::string& session_id) override {
    agent_checks.push_back(session_id);
    return authentication_agent;
  }

  std::optional<protocol::Finding> authentication_agent;  // what check_authentication_agent says
  std::vector<std::string> agent_checks;
  std::vector<std::pair<uid_t, std::string>> manager_checks;
  std::vector<uid_t> child_checks;
};

}  // namespace liaison::daemon
