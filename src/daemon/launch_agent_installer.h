// The `launch-agent` strategy's installation: the agent as a unit of each user's own service
// manager, started by the user's graphical session (the twin of a macOS LaunchAgent). The
// platform keeps it (Linux: drop-in and enablement under /etc/systemd/user, root-owned; macOS: a
// plist in /Library/LaunchAgents) and talks to users' service managers; the daemon decides.
#pragma once

#include <sys/types.h>

#include <expected>
#include <set>
#include <string>

namespace liaison::daemon {

// For whom the agent unit is installed: everyone, or these users.
struct LaunchAgentInstallation {
  bool all = false;
  std::set<uid_t> users;

  bool installed_for(uid_t uid) const { return all || users.contains(uid); }
  bool empty() const { return !all && users.empty(); }
  friend bool operator==(const LaunchAgentInstallation&, const LaunchAgentInstallation&) = default;
};

// What writing the installation changed.
struct InstallationChange {
  bool files = false;    // anything at all: managers must reload
  bool command = false;  // the agent's command line: running agents must restart
};

// The agent unit in one user's service manager.
struct UserUnitState {
  bool manager_running = false;
  std::string load_state;    // loaded, not-found, masked
  std::string active_state;  // active, inactive, failed, ...
  pid_t main_pid = 0;
  std::string error;  // when the manager could not be asked
};

class LaunchAgentInstaller {
 public:
  virtual ~LaunchAgentInstaller() = default;

  virtual std::expected<LaunchAgentInstallation, std::string> installation() const = 0;

  // Writes what `installation` needs (removes everything when it is empty), only what differs.
  virtual std::expected<InstallationChange, std::string> write(
      const LaunchAgentInstallation& installation) = 0;

  // In the service manager of `uid`, if it runs: reload unit files; restart the agent if it
  // runs; stop it. None of them fails when the manager is not running.
  virtual std::expected<void, std::string> reload(uid_t uid) = 0;
  virtual std::expected<void, std::string> restart_if_running(uid_t uid) = 0;
  virtual std::expected<void, std::string> stop(uid_t uid) = 0;

  virtual UserUnitState unit_state(uid_t uid) = 0;

  // For status: where the unit and its installed parts are, and the agent's command.
  virtual std::string unit_name() const = 0;
  virtual std::string command() const = 0;
};

}  // namespace liaison::daemon
