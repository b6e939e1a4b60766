#include "platform/linux/exec_launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
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
#include "platform/linux/unit_launchers.h"
#include "platform/posix/user_spawn.h"

namespace liaison::platform {
namespace {

// glibc names it P_PIDFD only since 2.36; the kernel value is fixed.
constexpr idtype_t kPidfdIdType = static_cast<idtype_t>(3);

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

// A pipe holding the token, its write end already closed: the agent reads it to EOF on fd 3.
std::expected<UniqueFd, std::string> token_pipe(const std::string& token) {
  // One write of at most PIPE_BUF bytes into an empty pipe never blocks and is never split.
  if (token.empty() || token.size() > PIPE_BUF) {
    return std::unexpected(fmt::format("token must be 1 to {} bytes", PIPE_BUF));
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return std::unexpected(fmt::format("pipe2: {}", errno_text(errno)));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  ssize_t written = write(write_end.get(), token.data(), token.size());
  if (written != static_cast<ssize_t>(token.size())) {
    return std::unexpected(fmt::format("write token pipe: {}", errno_text(errno)));
  }
  return read_end;
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
                                        "LIAISON_TOKEN_FD", "JOURNAL_STREAM"};
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

// JOURNAL_STREAM for an agent whose stdout and stderr are `output`: its device and inode, as
// systemd sets it, so the agent's logging knows its stderr is the journal.
std::expected<std::string, std::string> journal_stream_of(const UniqueFd& output) {
  struct stat status {};
  if (fstat(output.get(), &status) != 0) {
    return std::unexpected(fmt::format("fstat(agent output): {}", errno_text(errno)));
  }
  return fmt::format("JOURNAL_STREAM={}:{}", status.st_dev, status.st_ino);
}

}  // namespace

ExecLauncher::ExecLauncher(std::vector<std::string> agent_command, std::string agent_socket_path,
                           EnvironmentProvider environment_provider, OutputProvider output_provider)
    : agent_command_(std::move(agent_command)),
      agent_socket_path_(std::move(agent_socket_path)),
      environment_provider_(std::move(environment_provider)),
      output_provider_(std::move(output_provider)) {}

std::expected<daemon::LaunchedAgent, std::string> ExecLauncher::launch(
    const daemon::Session& session, const std::string& token) {
  if (agent_command_.empty() || !agent_command_.front().starts_with('/')) {
    return std::unexpected("the agent command must start with an absolute path");
  }
  if (session.uid == 0) {
    return std::unexpected("refusing to start an agent as root");
  }
  auto user = user_ids_for(session.uid);
  if (!user) {
    return std::unexpected(user.error());
  }
  auto provided = environment_provider_(session);
  if (!provided) {
    return std::unexpected(fmt::format("agent environment: {}", provided.error()));
  }
  auto environment = launch_environment(std::move(*provided), session.id, agent_socket_path_);
  if (!environment) {
    return std::unexpected(environment.error());
  }
  auto token_fd = token_pipe(token);
  if (!token_fd) {
    return std::unexpected(token_fd.error());
  }
  // A stream of its own where there is a provider; else the daemon's, unless closed.
  UniqueFd output;
  if (output_provider_) {
    auto provided_output = output_provider_(session);
    if (!provided_output) {
      return std::unexpected(fmt::format("agent output: {}", provided_output.error()));
    }
    output = std::move(*provided_output);
    auto stream = journal_stream_of(output);
    if (!stream) {
      return std::unexpected(stream.error());
    }
    environment->push_back(std::move(*stream));
  }
  const int stdout_fd = output ? output.get() : (is_closed(STDOUT_FILENO) ? -1 : STDOUT_FILENO);
  const int stderr_fd = output ? output.get() : (is_closed(STDERR_FILENO) ? -1 : STDERR_FILENO);
  auto child = spawn_as_user(UserSpawn{
      .user = std::move(*user),
      .argv = agent_command_,
      .environment = std::move(*environment),
      .stdout_fd = stdout_fd,
      .stderr_fd = stderr_fd,
      .inherit_fd = token_fd->get(),
      .new_session = true,
      .change_to_home = true,
  });
  if (!child) {
    return std::unexpected(child.error());
  }
  const pid_t pid = child->pid();
  // The child is ours until we reap it, so its pid cannot be reused before pidfd_open (unless
  // SIGCHLD is ignored, which the daemon must not do).
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    const int pidfd_errno = errno;
    // Without a pidfd (out of fds or memory) nothing can watch it: end it, and reap it if it has
    // gone already. Waiting could block on a child stuck in the user's home, so a child that is
    // slow to die stays a zombie until the daemon exits: one entry, in a case this rare.
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, WNOHANG);
    return std::unexpected(fmt::format("pidfd_open: {}", errno_text(pidfd_errno)));
  }
  log::info(
      fmt::format("started agent for session {} as uid {}, pid {}", session.id, session.uid, pid),
      {{"LIAISON_SESSION", session.id}});
  return daemon::LaunchedAgent{
      .pid = pid,
      .uid = session.uid,
      .exit_fd = std::move(pidfd),
      .start_failure = [child = std::move(*child)] { return child.start_failure(); }};
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
