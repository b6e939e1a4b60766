// Apple only. Facts about agent processes on macOS (daemon::ProcessInspector): uid, start time
// and executable from libproc; a kqueue (EVFILT_PROC, NOTE_EXIT) as the exit handle; and which
// launchd job or asuser launch the process belongs to, from the launcher (`unit_of`). With it
// the daemon accepts user-scope agents (asuser, launch-agent), as sd-login does on Linux.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "daemon/process_inspector.h"

namespace liaison::platform::macos {

// The "unit" that runs `pid` for `uid` ("dev.liaison.agent", "asuser"), or empty.
using UnitResolver = std::function<std::string(pid_t pid, uid_t uid)>;

class DarwinProcessInspector final : public daemon::ProcessInspector {
 public:
  explicit DarwinProcessInspector(UnitResolver unit_of) : unit_of_(std::move(unit_of)) {}

  std::expected<daemon::ProcessFacts, std::string> facts_of(pid_t pid) const override;
  std::expected<UniqueFd, std::string> watch(pid_t pid) const override;
  // A kqueue cannot signal: the pid it watches is remembered, and not signalled once the kqueue
  // says it exited (so a recycled pid is hit only in the instant between check and kill).
  void signal(const UniqueFd& watch, int signal) const override;

 private:
  UnitResolver unit_of_;
  mutable std::mutex mutex_;
  mutable std::map<int, pid_t> watched_;  // kqueue fd -> pid
};

// The parent of `pid` (libproc), or 0.
pid_t parent_of(pid_t pid);

}  // namespace liaison::platform::macos
