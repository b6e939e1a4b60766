#include "platform/posix/user_spawn.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "platform/posix/forked_child.h"

extern char** environ;

namespace liaison::platform {
namespace {

// The fd the inherited fd becomes; the child closes everything from kFirstClosedFd up.
constexpr int kInheritedFd = 3;
constexpr int kFirstClosedFd = 4;

// The steps of the child between fork and execve, in order; the child reports the failing one.
enum class Step : int {
  kNewSession,
  kStdio,
  kInheritFd,
  kSetGroups,
  kSetGid,
  kSetUid,
  kPrivilegesKept,
  kChangeDirectory,
  kExec,
};

struct Failure {
  Step step;
  int error_number;
};

// Built before fork: after it the child makes only async-signal-safe calls (no allocation, no
// locks, no user-database lookups).
struct Plan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t group_count = 0;
  const char* home = nullptr;  // null: stay where the caller is
  int null_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int inherit_fd = -1;
  int report_fd = -1;
  int max_fd = 0;
  bool new_session = false;
  sigset_t empty_mask{};
};

[[noreturn]] void fail(const Plan& plan, Step step, int error_number) {
  Failure failure{step, error_number};
  // One write of a few bytes to a pipe is atomic; if it fails there is no one left to tell.
  [[maybe_unused]] ssize_t written = write(plan.report_fd, &failure, sizeof failure);
  _exit(127);
}

// Every fd from kFirstClosedFd up goes at execve, the report pipe included (it is how the parent
// learns the child got there). Linux marks them close-on-exec at once; elsewhere they are closed
// now, sparing the report pipe.
void close_inherited_fds(const Plan& plan) {
#if defined(__linux__)
  if (close_range(kFirstClosedFd, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    return;
  }
#endif
  for (int fd = kFirstClosedFd; fd < plan.max_fd; ++fd) {
    if (fd != plan.report_fd) {
      close(fd);
    }
  }
}

// Trust, but verify: afterwards every id is the user's and root cannot be regained.
void drop_privileges(const Plan& plan) {
#if defined(__linux__)
  if (setgroups(plan.group_count, plan.groups) != 0) {
    fail(plan, Step::kSetGroups, errno);
  }
  if (setresgid(plan.gid, plan.gid, plan.gid) != 0) {
    fail(plan, Step::kSetGid, errno);
  }
  if (setresuid(plan.uid, plan.uid, plan.uid) != 0) {
    fail(plan, Step::kSetUid, errno);
  }
  uid_t real_uid, effective_uid, saved_uid;
  gid_t real_gid, effective_gid, saved_gid;
  const bool ids_match = getresuid(&real_uid, &effective_uid, &saved_uid) == 0 &&
                         getresgid(&real_gid, &effective_gid, &saved_gid) == 0 &&
                         real_uid == plan.uid && effective_uid == plan.uid &&
                         saved_uid == plan.uid && real_gid == plan.gid &&
                         effective_gid == plan.gid && saved_gid == plan.gid;
  if (!ids_match || setresuid(0, 0, 0) == 0) {
    fail(plan, Step::kPrivilegesKept, 0);
  }
#else
  if (setgroups(static_cast<int>(plan.group_count), plan.groups) != 0) {
    fail(plan, Step::kSetGroups, errno);
  }
  if (setgid(plan.gid) != 0) {
    fail(plan, Step::kSetGid, errno);
  }
  // For root, setgid/setuid set the real, effective and saved ids.
  if (setuid(plan.uid) != 0) {
    fail(plan, Step::kSetUid, errno);
  }
  if (getuid() != plan.uid || geteuid() != plan.uid || getgid() != plan.gid ||
      getegid() != plan.gid || setuid(0) == 0) {
    fail(plan, Step::kPrivilegesKept, 0);
  }
#endif
}

[[noreturn]] void run_child(const Plan& plan) {
  reset_signal_dispositions();
  if (plan.new_session && setsid() < 0) {
    fail(plan, Step::kNewSession, errno);
  }
  // Every source is above fd 3 (see above_inherited_fd): no dup2 overwrites another's source.
  const int out = plan.stdout_fd >= 0 ? plan.stdout_fd : plan.null_fd;
  const int err = plan.stderr_fd >= 0 ? plan.stderr_fd : plan.null_fd;
  if (dup2(plan.null_fd, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
      dup2(err, STDERR_FILENO) < 0) {
    fail(plan, Step::kStdio, errno);
  }
  if (plan.inherit_fd >= 0) {
    if (dup2(plan.inherit_fd, kInheritedFd) < 0) {
      fail(plan, Step::kInheritFd, errno);
    }
  } else {
    close(kInheritedFd);
  }
  close_inherited_fds(plan);
  drop_privileges(plan);
  umask(077);
  // As the user, so a root-squashed network home works; a home that cannot be entered is no
  // reason to fail. This is the step a hostile home can hold: nobody waits for it.
  if (plan.home != nullptr && chdir(plan.home) != 0 && chdir("/") != 0) {
    fail(plan, Step::kChangeDirectory, errno);
  }
  sigprocmask(SIG_SETMASK, &plan.empty_mask, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  fail(plan, Step::kExec, errno);
}

std::string describe_step(Step step, const SpawnedChild::Description& child) {
#if defined(__linux__)
  constexpr std::string_view kSetGid = "setresgid", kSetUid = "setresuid";
#else
  constexpr std::string_view kSetGid = "setgid", kSetUid = "setuid";
#endif
  switch (step) {
    case Step::kNewSession:
      return "setsid";
    case Step::kStdio:
      return "dup2(stdio)";
    case Step::kInheritFd:
      return fmt::format("dup2(fd {})", kInheritedFd);
    case Step::kSetGroups:
      return fmt::format("setgroups({} groups)", child.group_count);
    case Step::kSetGid:
      return fmt::format("{}({})", kSetGid, child.gid);
    case Step::kSetUid:
      return fmt::format("{}({})", kSetUid, child.uid);
    case Step::kPrivilegesKept:
      return fmt::format("privileges still held after dropping to uid {} gid {}", child.uid,
                         child.gid);
    case Step::kChangeDirectory:
      return fmt::format("chdir({} or /)", child.home);
    case Step::kExec:
      return fmt::format("execve({})", child.path);
  }
  return "an unknown step";
}

std::string errno_text(std::string_view what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// A close-on-exec copy of `fd` above the inherited fd: the caller's fds may be 0-3, and copies
// above 3 survive the child's own dup2s.
std::expected<UniqueFd, std::string> above_inherited_fd(int fd) {
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, kFirstClosedFd);
  if (moved < 0) {
    return std::unexpected(errno_text("fcntl(F_DUPFD_CLOEXEC)"));
  }
  return UniqueFd(moved);
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings) {
    pointers.push_back(text.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// fork(2) with every signal blocked across it, so no handler of the caller runs in the child
// before the child has reset them all to their defaults. Returns in the parent only.
pid_t fork_child(const Plan& plan) {
  sigset_t all_signals;
  sigset_t previous_mask;
  sigfillset(&all_signals);
  pthread_sigmask(SIG_SETMASK, &all_signals, &previous_mask);
  const pid_t pid = fork();
  if (pid == 0) {
    run_child(plan);
  }
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  errno = fork_errno;
  return pid;
}

}  // namespace

std::expected<UserIds, std::string> user_ids_for(uid_t uid) {
  const long suggested = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(suggested > 0 ? static_cast<size_t>(suggested) : 16384);
  passwd entry{};
  passwd* found = nullptr;
  int error;
  while ((error = getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
         buffer.size() < std::size_t{1024} * 1024) {
    buffer.resize(buffer.size() * 2);
  }
  if (error != 0) {
    return std::unexpected(fmt::format("getpwuid_r({}): {}", uid, std::strerror(error)));
  }
  if (found == nullptr) {
    return std::unexpected(fmt::format("no passwd entry for uid {}", uid));
  }
  UserIds ids{
      .uid = uid,
      .gid = entry.pw_gid,
      .name = entry.pw_name,
      .home = entry.pw_dir != nullptr ? entry.pw_dir : "/",
      .shell = entry.pw_shell != nullptr && *entry.pw_shell != '\0' ? entry.pw_shell : "/bin/sh",
      .groups = {}};
  // getgrouplist here, because initgroups is not async-signal-safe and cannot run in the child.
  // macOS declares it with int, Linux with gid_t.
#if defined(__APPLE__)
  using GroupId = int;
#else
  using GroupId = gid_t;
#endif
  int count = 64;
  std::vector<GroupId> groups(static_cast<size_t>(count));
  while (getgrouplist(ids.name.c_str(), static_cast<GroupId>(ids.gid), groups.data(), &count) < 0) {
    if (count <= static_cast<int>(groups.size())) {
      count = static_cast<int>(groups.size()) * 2;
    }
    if (count > 65536) {
      return std::unexpected(fmt::format("{} is in too many groups", ids.name));
    }
    groups.resize(static_cast<size_t>(count));
  }
  groups.resize(static_cast<size_t>(count));
  for (const GroupId group : groups) {
    ids.groups.push_back(static_cast<gid_t>(group));
  }
#if defined(__APPLE__)
  // setgroups(2) on macOS takes at most NGROUPS_MAX (16); membership beyond that is resolved by
  // the directory service on demand (uncertain: not checked on a Mac).
  if (ids.groups.size() > NGROUPS_MAX) ids.groups.resize(NGROUPS_MAX);
#endif
  return ids;
}

std::string SpawnedChild::start_failure() const {
  Failure failure{};
  ssize_t count;
  do {
    count = read(report_->get(), &failure, sizeof failure);
  } while (count < 0 && errno == EINTR);
  if (count != static_cast<ssize_t>(sizeof failure)) {
    return {};
  }
  std::string step = describe_step(failure.step, description_);
  if (failure.error_number == 0) {
    return step;
  }
  return fmt::format("{}: {}", step, std::strerror(failure.error_number));
}

std::expected<SpawnedChild, std::string> spawn_as_user(const UserSpawn& spawn) {
  if (spawn.user.uid == 0) {
    return std::unexpected(std::string("refusing to run a child as root"));
  }
  if (spawn.argv.empty() || !spawn.argv.front().starts_with('/')) {
    return std::unexpected(std::string("the program must be an absolute path"));
  }
  std::vector<std::string> argv = spawn.argv;
  std::vector<char*> raw_argv = pointers_to(argv);
  std::vector<std::string> environment = spawn.environment.value_or(std::vector<std::string>{});
  std::vector<char*> raw_environment = pointers_to(environment);
  const std::string home = spawn.user.home.starts_with('/') ? spawn.user.home : "/";

  auto null_fd = above_inherited_fd(UniqueFd(open("/dev/null", O_RDWR | O_CLOEXEC)).get());
  if (!null_fd) {
    return std::unexpected("/dev/null: " + null_fd.error());
  }
  std::optional<UniqueFd> high_out, high_err, high_inherit;
  for (auto [source, copy] :
       {std::pair{spawn.stdout_fd, &high_out}, std::pair{spawn.stderr_fd, &high_err},
        std::pair{spawn.inherit_fd, &high_inherit}}) {
    if (source < 0) {
      continue;
    }
    auto moved = above_inherited_fd(source);
    if (!moved) {
      return std::unexpected(moved.error());
    }
    copy->emplace(std::move(*moved));
  }
  int report[2];
  if (pipe(report) != 0) {  // macOS has no pipe2: the copies below are close-on-exec
    return std::unexpected(errno_text("pipe"));
  }
  UniqueFd report_read_raw(report[0]);
  UniqueFd report_write_raw(report[1]);
  auto report_read = above_inherited_fd(report_read_raw.get());
  auto report_write = above_inherited_fd(report_write_raw.get());
  if (!report_read || !report_write) {
    return std::unexpected(!report_read ? report_read.error() : report_write.error());
  }
  report_read_raw.reset();
  report_write_raw.reset();

  Plan plan;
  plan.path = argv.front().c_str();
  plan.argv = raw_argv.data();
  plan.envp = spawn.environment ? raw_environment.data() : environ;
  plan.uid = spawn.user.uid;
  plan.gid = spawn.user.gid;
  plan.groups = spawn.user.groups.data();
  plan.group_count = spawn.user.groups.size();
  plan.home = spawn.change_to_home ? home.c_str() : nullptr;
  plan.null_fd = null_fd->get();
  plan.stdout_fd = high_out ? high_out->get() : -1;
  plan.stderr_fd = high_err ? high_err->get() : -1;
  plan.inherit_fd = high_inherit ? high_inherit->get() : -1;
  plan.report_fd = report_write->get();
  plan.max_fd = static_cast<int>(std::clamp<long>(sysconf(_SC_OPEN_MAX), 256, 65536));
  plan.new_session = spawn.new_session;
  sigemptyset(&plan.empty_mask);

  const pid_t pid = fork_child(plan);
  if (pid < 0) {
    return std::unexpected(errno_text("fork"));
  }
  // Only the child keeps the write end: the report reaches EOF when its copy closes at execve.
  report_write->reset();
  // Read only once the child has exited, never waited on: non-blocking makes sure of it.
  fcntl(report_read->get(), F_SETFL, O_NONBLOCK);
  return SpawnedChild(pid, std::make_shared<UniqueFd>(std::move(*report_read)),
                      SpawnedChild::Description{.path = argv.front(),
                                                .home = home,
                                                .uid = plan.uid,
                                                .gid = plan.gid,
                                                .group_count = plan.group_count});
}

}  // namespace liaison::platform
