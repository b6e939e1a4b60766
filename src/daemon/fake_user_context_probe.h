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

  std::map<std::string, protocol::Finding> check_authentication_agents(
      const std::vector<std::string>& session_ids) override {
    std::map<std::string, protocol::Finding> found;
    for (const std::string& id : session_ids) {
      agent_checks.push_back(id);
      if (authentication_agent) found.emplace(id, *authentication_agent);
    }
    return found;
  }

  std::optional<protocol::Finding> authentication_agent;  // what each session is said to have
  std::vector<std::string> agent_checks;
  std::vector<std::pair<uid_t, std::string>> manager_checks;
  std::vector<uid_t> child_checks;
};

}  // namespace liaison::daemon
