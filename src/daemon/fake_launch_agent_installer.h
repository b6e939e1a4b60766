// A LaunchAgentInstaller for tests: keeps the installation in memory and records what it was
// asked to do to each user's service manager.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "daemon/launch_agent_installer.h"

namespace liaison::daemon {

class FakeLaunchAgentInstaller final : public LaunchAgentInstaller {
 public:
  std::expected<LaunchAgentInstallation, std::string> installation() const override {
    return installation_;
  }
  std::expected<InstallationChange, std::string> write(
      const LaunchAgentInstallation& installation) override {
    InstallationChange change{.files = installation != installation_,
                              .command = command_changed_ && !installation.empty()};
    command_changed_ = false;
    installation_ = installation;
    ++writes_;
    return change;
  }
  std::expected<void, std::string> reload(uid_t uid) override { return record("reload", uid); }
  std::expected<void, std::string> restart_if_running(uid_t uid) override {
    return record("restart", uid);
  }
  std::expected<void, std::string> stop(uid_t uid) override { return record("stop", uid); }
  UserUnitState unit_state(uid_t uid) override {
    return {.manager_running = true,
            .load_state = "loaded",
            .active_state = installation_.installed_for(uid) ? "active" : "inactive"};
  }
  std::string unit_name() const override { return "liaison-agent.service"; }
  std::string command() const override { return "/usr/bin/liaison agent"; }

  // The next write() reports a changed command line (a new binary path).
  void change_command() { command_changed_ = true; }
  const std::vector<std::pair<std::string, uid_t>>& actions() const { return actions_; }
  int writes() const { return writes_; }

 private:
  std::expected<void, std::string> record(std::string action, uid_t uid) {
    actions_.emplace_back(std::move(action), uid);
    return {};
  }

  LaunchAgentInstallation installation_;
  std::vector<std::pair<std::string, uid_t>> actions_;
  bool command_changed_ = false;
  int writes_ = 0;
};

}  // namespace liaison::daemon
