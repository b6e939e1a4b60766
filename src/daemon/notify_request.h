// The `notify` control method's parameters, checked before anything is sent anywhere. Params are
// named like the CLI flags they mirror (DESIGN.md): user, session, all, title, body, action_url,
// action ("ID=LABEL"), urgency, icon, id, wait_action.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/json_rpc.h"

namespace liaison::daemon {

// Limits that keep one notification readable and bounded; a title is a line, not a document.
inline constexpr std::size_t kMaxTitleBytes = 256;
inline constexpr std::size_t kMaxBodyBytes = 4096;
inline constexpr std::size_t kMaxActions = 8;
inline constexpr std::size_t kMaxUrlBytes = 2048;
inline constexpr int kMaxWaitActionSeconds = 3600;

struct NotifyRequest {
  std::vector<std::string> users;     // names or numeric uids, as given
  std::vector<std::string> sessions;  // session ids
  bool all = false;
  std::string title;
  std::string body;
  std::string action_url;
  std::vector<std::pair<std::string, std::string>> actions;  // (id, label)
  std::string urgency = "normal";
  std::string icon;
  std::string dedup_id;
  std::optional<int> wait_action_seconds;
};

protocol::Result<NotifyRequest> parse_notify_request(const protocol::Json& params);

// What the daemon asks an agent to show (the agent's `notify` method).
protocol::Json agent_notify_params(const NotifyRequest& request, const std::string& app_name);

}  // namespace liaison::daemon
