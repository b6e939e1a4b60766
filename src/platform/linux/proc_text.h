// Parsers of what /proc and cgroupfs say about a process. Its user wrote some of it (the command
// name in stat, every byte of environ), so each takes any bytes and answers nullopt or skips what
// is not well formed; none allocates more than its input. Pure: fuzzed in tests/fuzz.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::platform {

// Field 22 of /proc/<pid>/stat (starttime), parsed after the last ')' since the command name in
// field 2 may hold spaces and parentheses. nullopt when the text is not a stat line.
std::optional<uint64_t> start_time_from_stat(std::string_view stat);

// The real uid from the "Uid:" line of /proc/<pid>/status.
std::optional<uid_t> real_uid_from_status(std::string_view status);

// True when the "Uid:" line of /proc/<pid>/status gives `uid` as both real and effective uid.
bool runs_as(std::string_view status, uid_t uid);

// The NUL-separated "NAME=value" entries of /proc/<pid>/environ, empty ones dropped; with
// `truncated` (the read stopped at a size cap) an unterminated last entry is dropped too.
std::vector<std::string> split_environ(std::string_view data, bool truncated);

// The pids of a cgroup.procs file, one decimal per line; other lines are skipped.
std::vector<pid_t> parse_pids(std::string_view text);

}  // namespace liaison::platform
