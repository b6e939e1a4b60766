// Apple only, not compiled on the Linux build host: see docs/macos.md "verified here".
#include "platform/macos/darwin_process_inspector.h"

#include <fmt/format.h>
#include <libproc.h>
#include <poll.h>
#include <signal.h>
#include <sys/proc_info.h>

#include <cerrno>
#include <cstring>

#include "platform/macos/launchctl_launchers.h"

namespace liaison::platform::macos {
namespace {

std::expected<proc_bsdinfo, std::string> bsd_info(pid_t pid) {
  proc_bsdinfo info{};
  const int size = proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, &info, PROC_PIDTBSDINFO_SIZE);
  if (size != static_cast<int>(PROC_PIDTBSDINFO_SIZE)) {
    return std::unexpected(fmt::format("proc_pidinfo({}): {}", pid, std::strerror(errno)));
  }
  return info;
}

}  // namespace

pid_t parent_of(pid_t pid) {
  auto info = bsd_info(pid);
  return info ? static_cast<pid_t>(info->pbi_ppid) : 0;
}

std::expected<daemon::ProcessFacts, std::string> DarwinProcessInspector::facts_of(pid_t pid) const {
  auto info = bsd_info(pid);
  if (!info) return std::unexpected(info.error());
  char path[PROC_PIDPATHINFO_MAXSIZE] = {};
  if (proc_pidpath(pid, path, sizeof path) <= 0) {
    return std::unexpected(fmt::format("proc_pidpath({}): {}", pid, std::strerror(errno)));
  }
  daemon::ProcessFacts facts;
  facts.uid = info->pbi_ruid;
  // Microseconds since the epoch: with the pid, it names one process for good.
  facts.start_time = info->pbi_start_tvsec * 1'000'000 + info->pbi_start_tvusec;
  facts.executable = path;
  if (const std::string unit = unit_of_ ? unit_of_(pid, facts.uid) : std::string(); !unit.empty()) {
    facts.in_user_manager = true;  // launchd's gui/<uid> domain, or our asuser launch for <uid>
    facts.manager_uid = facts.uid;
    facts.user_unit = unit;
  }
  return facts;
}

std::expected<UniqueFd, std::string> DarwinProcessInspector::watch(pid_t pid) const {
  auto queue = process_exit_fd(pid);
  if (!queue) return std::unexpected(queue.error());
  std::lock_guard lock(mutex_);
  watched_[queue->get()] = pid;
  return queue;
}

void DarwinProcessInspector::signal(const UniqueFd& watch, int signal_number) const {
  pid_t pid = 0;
  {
    std::lock_guard lock(mutex_);
    auto found = watched_.find(watch.get());
    if (found == watched_.end()) return;
    pid = found->second;
  }
  // Already exited (the kqueue is readable): the pid may belong to someone else by now. poll(),
  // not kevent(), so the exit event stays queued for the daemon's own watch.
  pollfd readable{watch.get(), POLLIN, 0};
  if (poll(&readable, 1, 0) != 0) return;
  kill(pid, signal_number);
}

}  // namespace liaison::platform::macos
