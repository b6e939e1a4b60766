// What `liaison doctor` says on macOS, decided from plain values so Linux tests cover it: the
// agent's notification authorisation and app bundle (agent side), the user's launchd GUI domain
// and our LaunchAgent job, and what a child that only setuid()s to the user finds itself in
// (daemon side). The Apple-only code only collects the values.
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>

#include "platform/macos/command_runner.h"
#include "platform/macos/launchctl.h"
#include "protocol/finding.h"

namespace liaison::platform::macos {

// UNAuthorizationStatus's values (UserNotifications, macOS 10.14+).
enum class NotificationAuthorization : long {
  kNotDetermined = 0,
  kDenied = 1,
  kAuthorized = 2,
  kProvisional = 3,
  kEphemeral = 4,  // App Clips; not expected on macOS
};

struct NotificationContext {
  std::string executable_path;    // this process's executable
  std::string bundle_identifier;  // NSBundle.mainBundle.bundleIdentifier; empty: no app bundle
  std::string bundle_path;        // NSBundle.mainBundle.bundlePath
  // settings.authorizationStatus; nullopt when it was not asked (no bundle) or did not arrive.
  std::optional<long> authorization_status;
};

// Finding "notifications": authorized/provisional ok; denied fail; not determined warn; no app
// bundle fail (UserNotifications needs one).
protocol::Finding notifications_finding(const NotificationContext& context);

// Finding "user-manager" for `strategy`: whether gui/<uid> exists (`domain` is the outcome of
// `launchctl print gui/<uid>`) and, for launch-agent, what `launchctl print
// gui/<uid>/dev.liaison.agent` said (`job`).
protocol::Finding user_manager_finding(
    uid_t uid, const std::string& strategy, LaunchctlOutcome domain, const std::string& domain_said,
    const std::expected<std::optional<LaunchdServiceState>, LaunchctlError>* job);

// Finding "setuid-only-child" (always kInfo): what `launchctl managername` printed in a child
// that only dropped to `uid` — "System" or "Background" outside the GUI login, "Aqua" inside.
protocol::Finding setuid_only_child_finding(
    uid_t uid, const std::expected<CommandResult, std::string>& managername);

}  // namespace liaison::platform::macos
