// Starts a program as another user from a root process, the plain POSIX way: fork, drop to the
// user (setgroups, then gid and uid, each checked, and checked that root cannot be regained),
// a clean process state (default signal dispositions, an empty mask, no inherited fd but the
// ones asked for, umask 077), execve. It does not move the child into the user's login context:
// on macOS the child stays in the daemon's bootstrap namespace and audit session.
//
// One spawn for both platforms: the `exec` strategy on Linux (watched through a pidfd) and on
// macOS (a kqueue), and the setuid-only child of macOS's doctor.
//
// It never waits for the child. The child is already the user when it enters the user's home,
// and a home on a file system that never answers (a user's own FUSE mount) would hold whoever
// waited: the daemon's loop. A step that fails before execve makes the child exit with status
// 127, and SpawnedChild::start_failure() reads which step and why once the child has exited.
#pragma once

#include <sys/types.h>

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace liaison::platform {

// A user's ids, home and shell from the user database, and the groups initgroups(3) would give.
// Reentrant lookups: launches may run off the daemon's loop, on threads of their own.
struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
  std::string home;
  std::string shell;
  std::vector<gid_t> groups;
};
std::expected<UserIds, std::string> user_ids_for(uid_t uid);

struct UserSpawn {
  UserIds user;
  std::vector<std::string> argv;  // argv[0] is the absolute path executed
  // KEY=VALUE; nullopt keeps the caller's environment, as a naive setuid() daemon would.
  std::optional<std::vector<std::string>> environment;
  int stdout_fd = -1;           // dup2'd onto 1; -1: /dev/null
  int stderr_fd = -1;           // dup2'd onto 2; -1: /dev/null
  int inherit_fd = -1;          // dup2'd onto fd 3 (the agent's token pipe); -1: none
  bool new_session = false;     // setsid(): a session of its own, away from the caller's
  bool change_to_home = false;  // chdir(home), or "/" where the home cannot be entered
};

// A child spawn_as_user() forked. Copies share the report.
class SpawnedChild {
 public:
  pid_t pid() const { return pid_; }

  // Why the child never reached execve ("setresuid(1001): Operation not permitted"), asked once
  // it has exited; empty when it did reach execve. Never blocks.
  std::string start_failure() const;

  // What the step descriptions name; kept apart from the caller's memory.
  struct Description {
    std::string path;
    std::string home;
    uid_t uid = 0;
    gid_t gid = 0;
    size_t group_count = 0;
  };

 private:
  friend std::expected<SpawnedChild, std::string> spawn_as_user(const UserSpawn& spawn);
  SpawnedChild(pid_t pid, std::shared_ptr<UniqueFd> report, Description description)
      : pid_(pid), report_(std::move(report)), description_(std::move(description)) {}

  pid_t pid_;
  std::shared_ptr<UniqueFd> report_;  // the child's failure report; EOF once it exec'd
  Description description_;
};

// Forks `spawn` and returns at once: the child's pid is ours to watch and reap (waitpid, or a
// pidfd opened right away: nothing reaps it before the caller does). Errors are what failed
// before fork. Refuses uid 0 and relative paths. Every other fd of the caller is closed in the
// child; every signal is blocked across the fork, so no handler of the caller runs in the child.
std::expected<SpawnedChild, std::string> spawn_as_user(const UserSpawn& spawn);

}  // namespace liaison::platform
