// What the daemon may learn about an agent's process beyond the socket's credentials: when it
// started (a recycled pid has another start time), whose service manager it runs in and under
// which unit, and which executable it runs; and a handle that turns readable when it exits,
// whether or not it is the daemon's child. Linux: /proc, sd-login and pidfds.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <string>

#include "common/unique_fd.h"

namespace liaison::daemon {

struct ProcessFacts {
  uid_t uid = 0;            // real uid
  uint64_t start_time = 0;  // since boot, in clock ticks: with the pid, names one process for good
  // The user whose own service manager runs the process, and the unit it runs under there; both
  // unset when it belongs to no user manager (an exec-launched agent, a login session's process).
  bool in_user_manager = false;
  uid_t manager_uid = 0;
  std::string user_unit;
  std::string executable;  // the path it was started from; " (deleted)" when that file was replaced
};

class ProcessInspector {
 public:
  virtual ~ProcessInspector() = default;

  virtual std::expected<ProcessFacts, std::string> facts_of(pid_t pid) const = 0;

  // A handle bound to the process that has `pid` now: readable once it exits. Open it before
  // checking facts_of(), so the facts and the handle are known to be about the same process.
  virtual std::expected<UniqueFd, std::string> watch(pid_t pid) const = 0;

  // Sends `signal` through a handle from watch(): never to whoever reuses the pid later.
  virtual void signal(const UniqueFd& watch, int signal) const = 0;
};

}  // namespace liaison::daemon
