// Apple only. Notifications through UserNotifications. Works only in the main executable of an app
// bundle (Liaison.app) running in the user's GUI session (a LaunchAgent): elsewhere the framework
// asserts or its XPC connection is invalid (4099). Callbacks arrive on the main queue, so the
// agent must run the main run loop (NSApplication or dispatch_main).
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "agent/notifier.h"

namespace liaison::platform::macos {

// An error, instead of the framework's assertion, when the process has no bundle identifier.
std::expected<std::unique_ptr<agent::Notifier>, std::string> make_user_notification_notifier(
    agent::NotifierEvents events);

}  // namespace liaison::platform::macos
