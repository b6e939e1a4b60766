// The launch-agent strategy's installation on Linux: the packaged user unit
// (liaison-agent.service, PartOf/WantedBy=graphical-session.target, Restart=on-failure) is
// enabled and pinned to this binary with files under /etc/systemd/user only, which root owns:
//
//   graphical-session.target.wants/liaison-agent.service -> the packaged unit  (enablement)
//   liaison-agent.service.d/50-liaison-install.conf                            (command, users)
//
// Installing for some users rather than all adds `ConditionUser=|<uid>` lines to the drop-in,
// so nothing is ever written into a user's home: no user can redirect these writes with a
// symlink, and every path is opened beneath /etc/systemd/user with O_NOFOLLOW all the same.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/launch_agent_installer.h"

namespace liaison::platform {

struct LaunchAgentPaths {
  std::string config_dir = "/etc/systemd/user";
  // Where the packaged unit may be, in systemd's order of preference.
  std::vector<std::string> unit_dirs = {"/usr/local/lib/systemd/user", "/usr/lib/systemd/user"};
};

inline constexpr char kLaunchAgentDropIn[] = "liaison-agent.service.d/50-liaison-install.conf";
inline constexpr char kLaunchAgentWants[] = "graphical-session.target.wants/liaison-agent.service";

// The drop-in for `installation`: the agent's command and socket, and who it is for.
std::string render_drop_in(const daemon::LaunchAgentInstallation& installation,
                           const std::vector<std::string>& agent_command,
                           const std::string& agent_socket_path);

// The installation a drop-in written by render_drop_in() describes; nullopt for anything else.
std::optional<daemon::LaunchAgentInstallation> parse_drop_in(std::string_view text);

// The [Service] part of a drop-in: when it changes, running agents must restart.
std::string service_section(std::string_view drop_in);

// One word of an ExecStart= line, quoted for systemd ("%" and "$" doubled, spaces quoted).
std::string quote_for_unit(std::string_view word);

class SystemdLaunchAgent final : public daemon::LaunchAgentInstaller {
 public:
  SystemdLaunchAgent(std::vector<std::string> agent_command, std::string agent_socket_path,
                     LaunchAgentPaths paths = {});

  std::expected<daemon::LaunchAgentInstallation, std::string> installation() const override;
  std::expected<daemon::InstallationChange, std::string> write(
      const daemon::LaunchAgentInstallation& installation) override;
  std::expected<void, std::string> reload(uid_t uid) override;
  std::expected<void, std::string> restart_if_running(uid_t uid) override;
  std::expected<void, std::string> stop(uid_t uid) override;
  daemon::UserUnitState unit_state(uid_t uid) override;
  std::string unit_name() const override;
  std::string command() const override;

 private:
  std::expected<std::string, std::string> packaged_unit() const;

  std::vector<std::string> agent_command_;
  std::string agent_socket_path_;
  LaunchAgentPaths paths_;
};

}  // namespace liaison::platform
