// A ProcessInspector for tests: the test says what each pid is; a watch is the read end of a pipe
// whose write end the fake keeps, and exit() writes to it to play the process ending (a pidfd
// turning readable). Signals sent through a watch are recorded.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <utility>
#include <vector>

#include "common/portable_calls.h"
#include "daemon/process_inspector.h"

namespace liaison::daemon {

class FakeProcessInspector final : public ProcessInspector {
 public:
  void set(pid_t pid, ProcessFacts facts) { facts_[pid] = std::move(facts); }
  void forget(pid_t pid) { facts_.erase(pid); }

  // Makes every watch of `pid` readable, as a pidfd becomes when the process exits.
  void exit(pid_t pid) {
    for (const Watch& watch : watches_) {
      if (watch.pid == pid) {
        [[maybe_unused]] ssize_t written = ::write(watch.write_end.get(), "x", 1);
      }
    }
  }

  std::expected<ProcessFacts, std::string> facts_of(pid_t pid) const override {
    auto found = facts_.find(pid);
    if (found == facts_.end()) {
      return std::unexpected("no such process");
    }
    return found->second;
  }

  std::expected<UniqueFd, std::string> watch(pid_t pid) const override {
    if (!facts_.contains(pid)) {
      return std::unexpected("no such process");
    }
    int fds[2];
    if (liaison::open_pipe(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      return std::unexpected("pipe failed");
    }
    watches_.push_back({pid, UniqueFd(fds[1]), inode_of(fds[0])});
    return UniqueFd(fds[0]);
  }

  void signal(const UniqueFd& handle, int signal) const override {
    const ino_t inode = inode_of(handle.get());
    for (const Watch& watch : watches_) {
      if (watch.inode == inode) {
        signals_.emplace_back(watch.pid, signal);
      }
    }
  }

  // (pid, signal) in the order they were sent.
  const std::vector<std::pair<pid_t, int>>& signals() const { return signals_; }

 private:
  struct Watch {
    pid_t pid;
    UniqueFd write_end;
    ino_t inode;  // of the pipe: tells which watch a handle (or a dup of it) is
  };

  static ino_t inode_of(int fd) {
    struct stat status {};
    ::fstat(fd, &status);
    return status.st_ino;
  }

  std::map<pid_t, ProcessFacts> facts_;
  mutable std::vector<Watch> watches_;
  mutable std::vector<std::pair<pid_t, int>> signals_;
};

}  // namespace liaison::daemon
