// The `launch-agent` strategy's installation on macOS: the plist in /Library/LaunchAgents (loaded
// by launchd into every user's gui/<uid> at login) and, for users already logged in, launchctl
// bootstrap / kickstart -k / bootout / print. The twin of SystemdLaunchAgent; portable code, so
// Linux tests run it against a stand-in launchctl and a temporary directory.
#pragma once

#include <optional>
#include <string>

#include "common/safe_files.h"
#include "daemon/launch_agent_installer.h"
#include "platform/macos/launchctl.h"
#include "platform/macos/launchd_plist.h"

namespace liaison::platform::macos {

class LaunchdLaunchAgent final : public daemon::LaunchAgentInstaller {
 public:
  // `directory` is /Library/LaunchAgents; `owner` root:wheel there (nullopt leaves the writer's).
  LaunchdLaunchAgent(Launchctl& launchctl,
                     std::string directory = std::string(kLaunchAgentsDirectory),
                     std::optional<FileOwner> owner = FileOwner{0, 0},
                     LaunchAgentSpec spec = LaunchAgentSpec{});

  // A /Library/LaunchAgents plist loads for every user: the installation is all users or none.
  std::expected<daemon::LaunchAgentInstallation, std::string> installation() const override;
  // An error for a set of users: launchd has no per-user switch for an all-users LaunchAgent.
  std::expected<daemon::InstallationChange, std::string> write(
      const daemon::LaunchAgentInstallation& installation) override;
  // Bootstraps the agent into gui/<uid> when installed, boots it out when not.
  std::expected<void, std::string> reload(uid_t uid) override;
  std::expected<void, std::string> restart_if_running(uid_t uid) override;
  std::expected<void, std::string> stop(uid_t uid) override;
  daemon::UserUnitState unit_state(uid_t uid) override;
  std::string unit_name() const override;
  std::string command() const override;

 private:
  std::string file_name() const;
  std::expected<std::optional<std::string>, std::string> read_plist() const;

  Launchctl& launchctl_;
  std::string directory_;
  std::optional<FileOwner> owner_;
  LaunchAgentSpec spec_;
};

}  // namespace liaison::platform::macos
