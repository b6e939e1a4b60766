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

// Field 22 of /proc/<pid>/stat (starttime), parsed after the last ')' since the command name in
// field 2 may hold spaces and parentheses. nullopt when the text is not a stat line.
std::optional<uint64_t> start_time_from_stat(std::string_view stat);

// The real uid from the "Uid:" line of /proc/<pid>/status.
std::optional<uid_t> real_uid_from_status(std::string_view status);

}  // namespace liaison::platform
