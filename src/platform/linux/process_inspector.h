// ProcessInspector on Linux: start time and uids from /proc/<pid>/stat and status, the executable
// from /proc/<pid>/exe, the user service manager and unit from sd-login (sd_pid_get_owner_uid,
// sd_pid_get_user_unit, sd_pid_get_unit), and pidfds for watching and signalling.
#pragma once

#include <optional>
#include <string_view>

#include "daemon/process_inspector.h"

namespace liaison::platform {

class LinuxProcessInspector final : public daemon::ProcessInspector {
 public:
  std::expected<daemon::ProcessFacts, std::string> facts_of(pid_t pid) const override;
  std::expected<UniqueFd, std::string> watch(pid_t pid) const override;
  void signal(const UniqueFd& watch, int signal) const override;
};

}  // namespace liaison::platform
