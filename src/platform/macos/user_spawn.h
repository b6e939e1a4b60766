// Starts a program as another user from a root process, the plain POSIX way: fork, drop to the
// user (setgroups, setgid, setuid, each checked, and checked that root cannot be regained),
// execve. It does NOT move the child into the user's login context: on macOS the child stays in
// the daemon's (system) bootstrap namespace and audit session. That is exactly what the `exec`
// strategy's baseline and doctor's setuid-only check need. Portable, so Linux tests run it.
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace liaison::platform::macos {

// The user's primary gid and supplementary groups, from the user database. Call before fork.
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
  int stdout_fd = -1;        // dup2'd onto 1; -1: /dev/null
  int stderr_fd = -1;        // dup2'd onto 2; -1: /dev/null
  int inherit_fd = -1;       // dup2'd onto fd 3 (the agent's token pipe); -1: none
  bool new_session = false;  // setsid(): the agent's own session, away from the daemon's
  bool change_to_home = false;
};

// Forks and execs `spawn`. Returns the child's pid once it reached execve; if a step before it
// failed, the step and errno ("setuid(501): Operation not permitted") and the child is reaped.
// Refuses uid 0. Every other fd of the caller is closed in the child.
std::expected<pid_t, std::string> spawn_as_user(const UserSpawn& spawn);

}  // namespace liaison::platform::macos
