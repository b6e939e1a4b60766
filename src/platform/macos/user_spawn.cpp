#include "platform/macos/user_spawn.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

extern char** environ;

namespace liaison::platform::macos {
namespace {

// How long spawn_as_user waits for the child to reach execve.
constexpr int kExecDeadlineMilliseconds = 5000;
// The first fd the child closes: 0-2 are stdio, 3 the inherited fd.
constexpr int kFirstClosedFd = 4;

enum class Step : int {
  kNewSession,
  kStdio,
  kInheritFd,
  kSetGroups,
  kSetGid,
  kSetUid,
  kPrivilegesKept,
  kChangeDirectory,
  kExec
};

struct Failure {
  Step step;
  int error_number;
};

// Built before fork: after it the child makes only async-signal-safe calls.
struct Plan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  int group_count = 0;
  const char* home = nullptr;
  int null_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int inherit_fd = -1;
  int report_fd = -1;
  int max_fd = 0;
  bool new_session = false;
};

[[noreturn]] void fail(const Plan& plan, Step step, int error_number) {
  Failure failure{step, error_number};
  [[maybe_unused]] ssize_t written = write(plan.report_fd, &failure, sizeof failure);
  _exit(127);
}

[[noreturn]] void run_child(const Plan& plan) {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number != SIGKILL && signal_number != SIGSTOP) {
      sigaction(signal_number, &default_action, nullptr);
    }
  }
  if (plan.new_session && setsid() < 0) {
    fail(plan, Step::kNewSession, errno);
  }
  // The sources are all above fd 3 (see above_inherit_fd), so no dup2 overwrites another's source.
  const int out = plan.stdout_fd >= 0 ? plan.stdout_fd : plan.null_fd;
  const int err = plan.stderr_fd >= 0 ? plan.stderr_fd : plan.null_fd;
  if (dup2(plan.null_fd, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
      dup2(err, STDERR_FILENO) < 0) {
    fail(plan, Step::kStdio, errno);
  }
  if (plan.inherit_fd >= 0 && dup2(plan.inherit_fd, 3) < 0) {
    fail(plan, Step::kInheritFd, errno);
  }
  for (int fd = plan.inherit_fd >= 0 ? kFirstClosedFd : 3; fd < plan.max_fd; ++fd) {
    if (fd != plan.report_fd) {
      close(fd);
    }
  }
  if (setgroups(plan.group_count, plan.groups) != 0) {
    fail(plan, Step::kSetGroups, errno);
  }
  if (setgid(plan.gid) != 0) {
    fail(plan, Step::kSetGid, errno);
  }
  if (setuid(plan.uid) != 0) {
    fail(plan, Step::kSetUid, errno);
  }
  // For root, setgid/setuid set real, effective and saved ids; check that, and that root is gone.
  if (getuid() != plan.uid || geteuid() != plan.uid || getgid() != plan.gid ||
      getegid() != plan.gid || setuid(0) == 0) {
    fail(plan, Step::kPrivilegesKept, 0);
  }
  if (plan.home != nullptr && chdir(plan.home) != 0 && chdir("/") != 0) {
    fail(plan, Step::kChangeDirectory, errno);
  }
  umask(077);
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  fail(plan, Step::kExec, errno);
}

std::string describe(const Failure& failure, const Plan& plan) {
  std::string step;
  switch (failure.step) {
    case Step::kNewSession:
      step = "setsid";
      break;
    case Step::kStdio:
      step = "dup2(stdio)";
      break;
    case Step::kInheritFd:
      step = "dup2(fd 3)";
      break;
    case Step::kSetGroups:
      step = fmt::format("setgroups({} groups)", plan.group_count);
      break;
    case Step::kSetGid:
      step = fmt::format("setgid({})", plan.gid);
      break;
    case Step::kSetUid:
      step = fmt::format("setuid({})", plan.uid);
      break;
    case Step::kPrivilegesKept:
      step =
          fmt::format("privileges still held after dropping to uid {} gid {}", plan.uid, plan.gid);
      break;
    case Step::kChangeDirectory:
      step = fmt::format("chdir({} or /)", plan.home);
      break;
    case Step::kExec:
      step = fmt::format("execve({})", plan.path);
      break;
  }
  if (failure.error_number == 0) {
    return step;
  }
  return fmt::format("{}: {}", step, std::strerror(failure.error_number));
}

std::string errno_text(const char* what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// A close-on-exec copy of `fd` above fd 3 (macOS has no pipe2 or O_CLOEXEC for pipes).
std::expected<UniqueFd, std::string> above_inherit_fd(int fd) {
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

}  // namespace

std::expected<UserIds, std::string> user_ids_for(uid_t uid) {
  errno = 0;
  const passwd* entry = getpwuid(uid);
  if (entry == nullptr) {
    return std::unexpected(errno != 0 ? errno_text("getpwuid")
                                      : fmt::format("no user with uid {}", uid));
  }
  UserIds ids{.uid = uid,
              .gid = entry->pw_gid,
              .name = entry->pw_name,
              .home = entry->pw_dir != nullptr ? entry->pw_dir : "/",
              .shell = entry->pw_shell != nullptr ? entry->pw_shell : "/bin/sh",
              .groups = {}};
  // macOS declares getgrouplist with int, Linux with gid_t.
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

std::expected<pid_t, std::string> spawn_as_user(const UserSpawn& spawn) {
  if (spawn.user.uid == 0) {
    return std::unexpected(std::string("refusing to run a child as root"));
  }
  if (spawn.argv.empty() || spawn.argv.front().empty() || spawn.argv.front().front() != '/') {
    return std::unexpected(std::string("the program must be an absolute path"));
  }
  std::vector<std::string> argv = spawn.argv;
  std::vector<char*> raw_argv = pointers_to(argv);
  std::vector<std::string> environment = spawn.environment.value_or(std::vector<std::string>{});
  std::vector<char*> raw_environment = pointers_to(environment);

  UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) {
    return std::unexpected(errno_text("open(/dev/null)"));
  }
  auto high_null = above_inherit_fd(null_fd.get());
  if (!high_null) {
    return std::unexpected(high_null.error());
  }
  // The caller's fds may be 0-3; copies above 3 survive the child's own dup2s.
  std::optional<UniqueFd> high_out, high_err, high_inherit;
  for (auto [source, copy] :
       {std::pair{spawn.stdout_fd, &high_out}, std::pair{spawn.stderr_fd, &high_err},
        std::pair{spawn.inherit_fd, &high_inherit}}) {
    if (source < 0) {
      continue;
    }
    auto moved = above_inherit_fd(source);
    if (!moved) {
      return std::unexpected(moved.error());
    }
    copy->emplace(std::move(*moved));
  }
  int report[2];
  if (pipe(report) != 0) {
    return std::unexpected(errno_text("pipe"));
  }
  UniqueFd report_read_raw(report[0]);
  UniqueFd report_write_raw(report[1]);
  auto report_read = above_inherit_fd(report_read_raw.get());
  auto report_write = above_inherit_fd(report_write_raw.get());
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
  plan.group_count = static_cast<int>(spawn.user.groups.size());
  plan.home = spawn.change_to_home ? spawn.user.home.c_str() : nullptr;
  plan.null_fd = high_null->get();
  plan.stdout_fd = high_out ? high_out->get() : -1;
  plan.stderr_fd = high_err ? high_err->get() : -1;
  plan.inherit_fd = high_inherit ? high_inherit->get() : -1;
  plan.report_fd = report_write->get();
  plan.max_fd = static_cast<int>(std::clamp<long>(sysconf(_SC_OPEN_MAX), 256, 65536));
  plan.new_session = spawn.new_session;

  const pid_t pid = fork();
  if (pid < 0) {
    return std::unexpected(errno_text("fork"));
  }
  if (pid == 0) {
    run_child(plan);
  }
  report_write->reset();

  // The report pipe closes at execve (close-on-exec) or carries the failed step.
  Failure failure{};
  size_t got = 0;
  pollfd wait_for{report_read->get(), POLLIN, 0};
  while (got < sizeof failure) {
    const int ready = poll(&wait_for, 1, kExecDeadlineMilliseconds);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return std::unexpected(
          fmt::format("the child did not reach execve within {} ms", kExecDeadlineMilliseconds));
    }
    const ssize_t count =
        read(report_read->get(), reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count <= 0) {
      break;
    }
    got += static_cast<size_t>(count);
  }
  if (got == 0) {
    return pid;  // execve succeeded
  }
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got < sizeof failure) {
    return std::unexpected(std::string("the child failed before execve"));
  }
  return std::unexpected(describe(failure, plan));
}

}  // namespace liaison::platform::macos
