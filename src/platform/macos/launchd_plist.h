// The launchd property lists for the daemon (/Library/LaunchDaemons) and the per-user agent
// (/Library/LaunchAgents), written as XML plist 1.0. The shipped files in packaging/launchd are
// these functions' output; a test keeps them equal.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace liaison::platform::macos {

inline constexpr std::string_view kDaemonLabel = "dev.liaison.daemon";
inline constexpr std::string_view kAgentLabel = "dev.liaison.agent";
inline constexpr std::string_view kAgentBundleIdentifier = "dev.liaison.agent";
inline constexpr std::string_view kLaunchAgentsDirectory = "/Library/LaunchAgents";
inline constexpr std::string_view kLaunchDaemonsDirectory = "/Library/LaunchDaemons";
// The agent must be the main executable of its app bundle: UserNotifications needs a bundle
// identifier, and the keychain entitlements are honoured only for a bundle's main executable.
inline constexpr std::string_view kAgentExecutable =
    "/Applications/Liaison.app/Contents/MacOS/liaison";
inline constexpr std::string_view kDaemonExecutable = "/usr/local/bin/liaison";

struct LaunchAgentSpec {
  std::string label = std::string(kAgentLabel);
  std::vector<std::string> program_arguments{std::string(kAgentExecutable), "agent"};
  // Shown in Login Items ("Allow in the Background") instead of the signing certificate's name.
  std::vector<std::string> associated_bundle_identifiers{std::string(kAgentBundleIdentifier)};
};

struct LaunchDaemonSpec {
  std::string label = std::string(kDaemonLabel);
  std::vector<std::string> program_arguments{std::string(kDaemonExecutable), "daemon"};
};

// RunAtLoad, KeepAlive {SuccessfulExit=false, Crashed=true} (relaunch on failure only, so
// `liaison launch-agent uninstall` and a clean exit at logout stay stopped), LimitLoadToSessionType
// Aqua (GUI logins only), ProcessType Interactive (it shows UI: notifications).
std::string launch_agent_plist(const LaunchAgentSpec& spec);

// RunAtLoad, KeepAlive true (the daemon should always run), ProcessType Standard.
std::string launch_daemon_plist(const LaunchDaemonSpec& spec);

// <Label>.plist in the directory launchd reads it from.
std::string launch_agent_plist_path(std::string_view label = kAgentLabel);
std::string launch_daemon_plist_path(std::string_view label = kDaemonLabel);

// XML character escaping for plist <string> and <key> contents.
std::string xml_escape(std::string_view text);

}  // namespace liaison::platform::macos
