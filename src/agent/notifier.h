// Shows desktop notifications in the session the agent runs in, and reports what the user did
// with them. Linux: org.freedesktop.Notifications on the session bus; macOS: UserNotifications.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace liaison::agent {

enum class Urgency { kLow, kNormal, kCritical };

struct Notification {
  std::string app_name = "liaison";
  std::string title;       // plain text: shown literally, markup included
  std::string body;        // plain text: shown literally, markup included
  std::string icon;        // icon name or absolute path; empty for none
  std::string action_url;  // opened in the session when the body is clicked; empty for none
  std::vector<std::pair<std::string, std::string>> actions;  // (id, label), in order
  Urgency urgency = Urgency::kNormal;
  std::string dedup_id;       // a re-sent dedup_id replaces the notification shown under it
  int32_t timeout_ms = -1;    // -1: the server's default
  std::string desktop_entry;  // the desktop-entry hint; empty for none
};

// How a notification went away, as the freedesktop spec numbers them.
enum class CloseReason { kExpired, kDismissed, kClosed, kUndefined };

std::string_view close_reason_name(CloseReason reason);

struct NotifierEvents {
  // The user clicked an action; "default" is the body itself.
  std::function<void(uint32_t notification_id, const std::string& action)> on_action;
  std::function<void(uint32_t notification_id, CloseReason reason)> on_closed;
};

class Notifier {
 public:
  virtual ~Notifier() = default;

  // Shows `notification` and returns the id the notification server gave it. One round trip to
  // the server (about a millisecond); the first call also asks the server's capabilities.
  virtual std::expected<uint32_t, std::string> show(const Notification& notification) = 0;
};

}  // namespace liaison::agent
