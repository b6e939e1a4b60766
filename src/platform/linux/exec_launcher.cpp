#include "platform/linux/exec_launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "platform/linux/forked_child.h"
#include "platform/linux/passwd.h"
#include "platform/linux/unit_launchers.h"

namespace liaison::platform {
namespace {

// glibc names it P_PIDFD only since 2.36; the kernel value is fixed.
constexpr idtype_t kPidfdIdType = static_cast<idtype_t>(3);

// The first fd the child closes; 0-2 are stdio and 3 is the token.
constexpr unsigned kFirstClosedFd = kAgentTokenFd + 1;

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

// The steps of the child between fork and execve, in order; the child reports the failing one.
enum class ChildStep : int {
  kNewSession,
  kStdin,
  kStdoutStderr,
  kTokenFd,
  kSetGroups,
  kSetGid,
  kSetUid,
  kPrivilegesKept,
  kChangeDirectory,
  kExec,
};

struct ChildFailure {
  ChildStep step;
  int error_number;
};

// Everything the child needs, built before fork: after fork the child may only make
// async-signal-safe calls (no allocation, no locks, no NSS lookups such as initgroups).
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t group_count = 0;
  const char* home = nullptr;
  int null_fd = -1;
  int token_fd = -1;
  int report_fd = -1;
  bool stdout_closed = false;
  bool stderr_closed = false;
  int max_fd = 0;
  sigset_t empty_mask{};
};

[[noreturn]] void fail_child(const ChildPlan& plan, ChildStep step, int error_number) {
  ChildFailure failure{step, error_number};
  // One write of a few bytes to a pipe is atomic; if it fails there is no one left to tell.
  [[maybe_unused]] ssize_t written = write(plan.report_fd, &failure, sizeof(failure));
  _exit(127);
}

// Marks every fd from kFirstClosedFd up close-on-exec, so the report pipe still works until
// execve closes them all. Kernels before 5.11: close them now, sparing the report pipe.
void close_inherited_fds(const ChildPlan& plan) {
  if (close_range(kFirstClosedFd, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    return;
  }
  for (int fd = static_cast<int>(kFirstClosedFd); fd < plan.max_fd; ++fd) {
    if (fd != plan.report_fd) {
      close(fd);
    }
  }
}

void drop_privileges(const ChildPlan& plan) {
  if (setgroups(plan.group_count, plan.groups) != 0) {
    fail_child(plan, ChildStep::kSetGroups, errno);
  }
  if (setresgid(plan.gid, plan.gid, plan.gid) != 0) {
    fail_child(plan, ChildStep::kSetGid, errno);
  }
  if (setresuid(plan.uid, plan.uid, plan.uid) != 0) {
    fail_child(plan, ChildStep::kSetUid, errno);
  }
  // Trust, but verify: every id is the user's and root cannot be regained.
  uid_t real_uid, effective_uid, saved_uid;
  gid_t real_gid, effective_gid, saved_gid;
  bool ids_match = getresuid(&real_uid, &effective_uid, &saved_uid) == 0 &&
                   getresgid(&real_gid, &effective_gid, &saved_gid) == 0 && real_uid == plan.uid &&
                   effective_uid == plan.uid && saved_uid == plan.uid && real_gid == plan.gid &&
                   effective_gid == plan.gid && saved_gid == plan.gid;
  if (!ids_match || setresuid(0, 0, 0) == 0) {
    fail_child(plan, ChildStep::kPrivilegesKept, 0);
  }
}

[[noreturn]] void run_child(const ChildPlan& plan) {
  reset_signal_dispositions();
  if (setsid() < 0) {
    fail_child(plan, ChildStep::kNewSession, errno);
  }
  if (dup2(plan.null_fd, STDIN_FILENO) < 0) {
    fail_child(plan, ChildStep::kStdin, errno);
  }
  if (plan.stdout_closed && dup2(plan.null_fd, STDOUT_FILENO) < 0) {
    fail_child(plan, ChildStep::kStdoutStderr, errno);
  }
  if (plan.stderr_closed && dup2(plan.null_fd, STDERR_FILENO) < 0) {
    fail_child(plan, ChildStep::kStdoutStderr, errno);
  }
  // token_fd is above 3, so dup2 makes a real copy and the copy is not close-on-exec.
  if (dup2(plan.token_fd, kAgentTokenFd) < 0) {
    fail_child(plan, ChildStep::kTokenFd, errno);
  }
  close_inherited_fds(plan);
  drop_privileges(plan);
  umask(077);
  // As the user, so a root-squashed network home works; a missing home is no reason to fail.
  if (chdir(plan.home) != 0 && chdir("/") != 0) {
    fail_child(plan, ChildStep::kChangeDirectory, errno);
  }
  sigprocmask(SIG_SETMASK, &plan.empty_mask, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  fail_child(plan, ChildStep::kExec, errno);
}

// What the parent says about a child's failed step, kept after the plan's memory is gone.
struct ChildDescription {
  std::string path;
  std::string home;
  uid_t uid = 0;
  gid_t gid = 0;
  size_t group_count = 0;
};

std::string describe_step(ChildStep step, const ChildDescription& plan) {
  switch (step) {
    case ChildStep::kNewSession:
      return "setsid";
    case ChildStep::kStdin:
      return "dup2(/dev/null, 0)";
    case ChildStep::kStdoutStderr:
      return "dup2(/dev/null, 1 or 2)";
    case ChildStep::kTokenFd:
      return fmt::format("dup2(token pipe, {})", kAgentTokenFd);
    case ChildStep::kSetGroups:
      return fmt::format("setgroups({} groups)", plan.group_count);
    case ChildStep::kSetGid:
      return fmt::format("setresgid({})", plan.gid);
    case ChildStep::kSetUid:
      return fmt::format("setresuid({})", plan.uid);
    case ChildStep::kPrivilegesKept:
      return fmt::format("privileges still held after dropping to uid {} gid {}", plan.uid,
                         plan.gid);
    case ChildStep::kChangeDirectory:
      return fmt::format("chdir({} or /)", plan.home);
    case ChildStep::kExec:
      return fmt::format("execve({})", plan.path);
  }
  return "unknown step";
}

std::string describe_failure(const ChildFailure& failure, const ChildDescription& plan) {
  std::string step = describe_step(failure.step, plan);
  if (failure.error_number == 0) {
    return step;
  }
  return fmt::format("{}: {}", step, errno_text(failure.error_number));
}

// Moves `fd` to a number above the token fd (pipe() may hand out 0-3 when stdio is closed), so
// the child's dup2 calls never overwrite one of its own sources.
std::expected<UniqueFd, std::string> above_token_fd(UniqueFd fd) {
  int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, static_cast<int>(kFirstClosedFd));
  if (moved < 0) {
    return std::unexpected(fmt::format("fcntl(F_DUPFD_CLOEXEC): {}", errno_text(errno)));
  }
  return UniqueFd(moved);
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

std::expected<Pipe, std::string> make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return std::unexpected(fmt::format("pipe2: {}", errno_text(errno)));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  auto high_read = above_token_fd(std::move(read_end));
  if (!high_read) {
    return std::unexpected(high_read.error());
  }
  auto high_write = above_token_fd(std::move(write_end));
  if (!high_write) {
    return std::unexpected(high_write.error());
  }
  return Pipe{std::move(*high_read), std::move(*high_write)};
}

// A pipe holding the token, its write end already closed: the agent reads it to EOF.
std::expected<UniqueFd, std::string> token_pipe(const std::string& token) {
  // One write of at most PIPE_BUF bytes into an empty pipe never blocks and is never split.
  if (token.empty() || token.size() > PIPE_BUF) {
    return std::unexpected(fmt::format("token must be 1 to {} bytes", PIPE_BUF));
  }
  auto pipe = make_pipe();
  if (!pipe) {
    return std::unexpected(pipe.error());
  }
  ssize_t written = write(pipe->write_end.get(), token.data(), token.size());
  if (written != static_cast<ssize_t>(token.size())) {
    return std::unexpected(fmt::format("write token pipe: {}", errno_text(errno)));
  }
  return std::move(pipe->read_end);
}

bool is_closed(int fd) { return fcntl(fd, F_GETFD) < 0 && errno == EBADF; }

bool has_key(const std::string& entry, std::string_view key) {
  return entry.size() > key.size() && entry.starts_with(key) && entry[key.size()] == '=';
}

// The provider's environment plus what only the launcher knows; the token itself stays out.
std::expected<std::vector<std::string>, std::string> launch_environment(
    std::vector<std::string> environment, const std::string& session_id,
    const std::string& agent_socket_path) {
  constexpr std::string_view kOurs[] = {"LIAISON_SESSION", "LIAISON_AGENT_SOCKET",
                                        "LIAISON_TOKEN_FD"};
  std::erase_if(environment, [&](const std::string& entry) {
    for (std::string_view key : kOurs) {
      if (has_key(entry, key)) {
        return true;
      }
    }
    return false;
  });
  for (const std::string& entry : environment) {
    if (entry.find('=') == std::string::npos || entry.find('\0') != std::string::npos) {
      return std::unexpected(fmt::format("malformed environment entry {:?}", entry));
    }
  }
  environment.push_back("LIAISON_SESSION=" + session_id);
  environment.push_back("LIAISON_AGENT_SOCKET=" + agent_socket_path);
  environment.push_back(fmt::format("LIAISON_TOKEN_FD={}", kAgentTokenFd));
  return environment;
}

// NULL-terminated char* arrays pointing into `strings`, which must outlive them.
std::vector<char*> to_c_array(std::vector<std::string>& strings) {
  std::vector<char*> array;
  array.reserve(strings.size() + 1);
  for (std::string& value : strings) {
    array.push_back(value.data());
  }
  array.push_back(nullptr);
  return array;
}

// Reads the report of a child that has exited: its failed step, or empty when it reached
// execve (the pipe's write end closed there without a word). Non-blocking: a report is written
// whole before the child exits.
std::string read_start_failure(const UniqueFd& report, const ChildDescription& description) {
  ChildFailure failure{};
  ssize_t count;
  do {
    count = read(report.get(), &failure, sizeof(failure));
  } while (count < 0 && errno == EINTR);
  if (count != static_cast<ssize_t>(sizeof(failure))) {
    return {};
  }
  return describe_failure(failure, description);
}

// What the child is made from, owned by the parent until the child has exec'd.
struct ChildResources {
  PasswdEntry account;
  std::vector<gid_t> groups;
  std::vector<std::string> argv;
  std::vector<std::string> environment;
  std::string home;
  UniqueFd token_fd;
  UniqueFd null_fd;
  Pipe report;
  // NULL-terminated views of argv and environment for execve, made by plan_for().
  std::vector<char*> argv_pointers;
  std::vector<char*> environment_pointers;
};

std::expected<ChildResources, std::string> prepare_child(
    const daemon::Session& session, const std::string& token,
    const std::vector<std::string>& agent_command, const std::string& agent_socket_path,
    const EnvironmentProvider& environment_provider) {
  ChildResources resources;
  auto account = passwd_by_uid(session.uid);
  if (!account) {
    return std::unexpected(account.error());
  }
  resources.account = std::move(*account);
  // getgrouplist here, because initgroups is not async-signal-safe (NSS) and cannot run in the
  // child.
  auto groups = groups_of(resources.account);
  if (!groups) {
    return std::unexpected(groups.error());
  }
  resources.groups = std::move(*groups);
  auto provided = environment_provider(session);
  if (!provided) {
    return std::unexpected(fmt::format("agent environment: {}", provided.error()));
  }
  auto environment = launch_environment(std::move(*provided), session.id, agent_socket_path);
  if (!environment) {
    return std::unexpected(environment.error());
  }
  resources.environment = std::move(*environment);
  resources.argv = agent_command;
  resources.home = resources.account.home.starts_with('/') ? resources.account.home : "/";

  auto token_fd = token_pipe(token);
  if (!token_fd) {
    return std::unexpected(token_fd.error());
  }
  resources.token_fd = std::move(*token_fd);
  auto null_fd = above_token_fd(UniqueFd(open("/dev/null", O_RDWR | O_CLOEXEC)));
  if (!null_fd) {
    return std::unexpected(fmt::format("/dev/null: {}", null_fd.error()));
  }
  resources.null_fd = std::move(*null_fd);
  auto report = make_pipe();
  if (!report) {
    return std::unexpected(report.error());
  }
  resources.report = std::move(*report);
  return resources;
}

// Called once `resources` has reached its final place: the plan points into it.
ChildPlan plan_for(ChildResources& resources) {
  resources.argv_pointers = to_c_array(resources.argv);
  resources.environment_pointers = to_c_array(resources.environment);
  ChildPlan plan{
      .path = resources.argv.front().c_str(),
      .argv = resources.argv_pointers.data(),
      .envp = resources.environment_pointers.data(),
      .uid = resources.account.uid,
      .gid = resources.account.gid,
      .groups = resources.groups.data(),
      .group_count = resources.groups.size(),
      .home = resources.home.c_str(),
      .null_fd = resources.null_fd.get(),
      .token_fd = resources.token_fd.get(),
      .report_fd = resources.report.write_end.get(),
      .stdout_closed = is_closed(STDOUT_FILENO),
      .stderr_closed = is_closed(STDERR_FILENO),
      .max_fd = static_cast<int>(sysconf(_SC_OPEN_MAX)),
  };
  sigemptyset(&plan.empty_mask);
  return plan;
}

// fork(2) with every signal blocked across it, so no handler of the daemon runs in the child
// before the child has reset them all to their defaults. Returns in the parent only.
std::expected<pid_t, std::string> fork_child(const ChildPlan& plan) {
  sigset_t all_signals;
  sigset_t previous_mask;
  sigfillset(&all_signals);
  pthread_sigmask(SIG_SETMASK, &all_signals, &previous_mask);
  pid_t pid = fork();
  if (pid == 0) {
    run_child(plan);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  if (pid < 0) {
    return std::unexpected(fmt::format("fork: {}", errno_text(fork_errno)));
  }
  return pid;
}

}  // namespace

ExecLauncher::ExecLauncher(std::vector<std::string> agent_command, std::string agent_socket_path,
                           EnvironmentProvider environment_provider)
    : agent_command_(std::move(agent_command)),
      agent_socket_path_(std::move(agent_socket_path)),
      environment_provider_(std::move(environment_provider)) {}

std::expected<daemon::LaunchedAgent, std::string> ExecLauncher::launch(
    const daemon::Session& session, const std::string& token) {
  if (agent_command_.empty() || !agent_command_.front().starts_with('/')) {
    return std::unexpected("the agent command must start with an absolute path");
  }
  if (session.uid == 0) {
    return std::unexpected("refusing to start an agent as root");
  }
  auto resources =
      prepare_child(session, token, agent_command_, agent_socket_path_, environment_provider_);
  if (!resources) {
    return std::unexpected(resources.error());
  }
  ChildPlan plan = plan_for(*resources);
  auto pid = fork_child(plan);
  if (!pid) {
    return std::unexpected(pid.error());
  }
  // The child is ours until we reap it, so its pid cannot be reused before pidfd_open (unless
  // SIGCHLD is ignored, which the daemon must not do).
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, *pid, 0)));
  const int pidfd_errno = errno;
  // Only the child keeps these; the report pipe reaches EOF when its copy closes at execve.
  resources->report.write_end.reset();
  resources->token_fd.reset();
  resources->null_fd.reset();
  if (!pidfd) {
    // Without a pidfd (out of fds or memory) nothing can watch it: end it, and reap it if it has
    // gone already. Waiting could block on a child stuck in the user's home, so a child that is
    // slow to die stays a zombie until the daemon exits: one entry, in a case this rare.
    kill(*pid, SIGKILL);
    waitpid(*pid, nullptr, WNOHANG);
    return std::unexpected(fmt::format("pidfd_open: {}", errno_text(pidfd_errno)));
  }
  // Read only after the child exited, never waited on: O_NONBLOCK makes sure of it.
  fcntl(resources->report.read_end.get(), F_SETFL, O_NONBLOCK);
  auto report = std::make_shared<UniqueFd>(std::move(resources->report.read_end));
  ChildDescription description{.path = resources->argv.front(),
                               .home = resources->home,
                               .uid = plan.uid,
                               .gid = plan.gid,
                               .group_count = plan.group_count};
  log::info(
      fmt::format("started agent for session {} as uid {}, pid {}", session.id, session.uid, *pid),
      {{"LIAISON_SESSION", session.id}});
  return daemon::LaunchedAgent{.pid = *pid,
                               .uid = session.uid,
                               .exit_fd = std::move(pidfd),
                               .start_failure = [report, description = std::move(description)] {
                                 return read_start_failure(*report, description);
                               }};
}

void ExecLauncher::send_signal(const daemon::LaunchedAgent& agent, int signal) {
  if (!agent.exit_fd) {
    AgentLauncher::send_signal(agent, signal);
    return;
  }
  syscall(SYS_pidfd_send_signal, agent.exit_fd.get(), signal, nullptr, 0);
}

std::optional<int> ExecLauncher::reap(const daemon::LaunchedAgent& agent) {
  if (!agent.exit_fd) {
    return AgentLauncher::reap(agent);
  }
  return platform::reap(agent.exit_fd);
}

void ExecLauncher::retire_other_strategies(uid_t uid) { retire_agent_units(uid, strategy()); }

std::optional<int> reap(const UniqueFd& pidfd) {
  siginfo_t info{};
  int result;
  do {
    result = waitid(kPidfdIdType, static_cast<id_t>(pidfd.get()), &info, WEXITED | WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result < 0) {
    return 0;
  }
  if (info.si_pid == 0) {
    return std::nullopt;
  }
  switch (info.si_code) {
    case CLD_EXITED:
      return W_EXITCODE(info.si_status, 0);
    case CLD_DUMPED:
      return info.si_status | WCOREFLAG;
    default:  // CLD_KILLED
      return info.si_status;
  }
}

}  // namespace liaison::platform
