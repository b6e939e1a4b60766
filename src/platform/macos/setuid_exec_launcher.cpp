#include "platform/macos/setuid_exec_launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/posix/user_spawn.h"

namespace liaison::platform::macos {

std::vector<std::string> setuid_agent_environment(const std::string& user, const std::string& home,
                                                  const std::string& shell,
                                                  const std::string& session_id,
                                                  const std::string& agent_socket_path) {
  return {
      "HOME=" + home,
      "USER=" + user,
      "LOGNAME=" + user,
      "SHELL=" + shell,
      "PATH=/usr/bin:/bin:/usr/sbin:/sbin",  // what launchd gives its jobs
      "LIAISON_SESSION=" + session_id,
      "LIAISON_AGENT_SOCKET=" + agent_socket_path,
      "LIAISON_TOKEN_FD=3",
  };
}

SetuidExecLauncher::SetuidExecLauncher(std::vector<std::string> agent_command,
                                       std::string agent_socket_path, ExitWatcher exit_watcher)
    : agent_command_(std::move(agent_command)),
      agent_socket_path_(std::move(agent_socket_path)),
      exit_watcher_(std::move(exit_watcher)) {}

std::expected<daemon::LaunchedAgent, std::string> SetuidExecLauncher::launch(
    const daemon::Session& session, const std::string& token) {
  auto ids = user_ids_for(session.uid);
  if (!ids) {
    return std::unexpected(ids.error());
  }
  // The token goes through a pipe read at fd 3, never argv or the environment; it is far
  // smaller than a pipe's buffer, so writing it all before the child runs cannot block.
  int fds[2];
  if (pipe(fds) != 0) {
    return std::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  }
  UniqueFd token_read(fds[0]);
  UniqueFd token_write(fds[1]);
  fcntl(token_read.get(), F_SETFD, FD_CLOEXEC);
  fcntl(token_write.get(), F_SETFD, FD_CLOEXEC);
  for (size_t written = 0; written < token.size();) {
    const ssize_t count = write(token_write.get(), token.data() + written, token.size() - written);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count < 0) {
      return std::unexpected(fmt::format("write token: {}", std::strerror(errno)));
    }
    written += static_cast<size_t>(count);
  }
  token_write.reset();

  UserSpawn spawn{
      .user = *ids,
      .argv = agent_command_,
      .environment = setuid_agent_environment(ids->name, ids->home, ids->shell, session.id,
                                              agent_socket_path_),
      .stdout_fd = -1,
      .stderr_fd = STDERR_FILENO,  // the daemon's: a terminal when run by hand, else /dev/null
      .inherit_fd = token_read.get(),
      .new_session = true,
      .change_to_home = true,
  };
  auto child = spawn_as_user(spawn);
  if (!child) {
    return std::unexpected(child.error());
  }
  const pid_t pid = child->pid();
  auto exit_fd = exit_watcher_(pid);
  if (!exit_fd) {
    // Nothing can watch it: end it, and reap it if it has gone already. Waiting could block on
    // a child stuck in the user's home (it is the user by then).
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, WNOHANG);
    return std::unexpected(exit_fd.error());
  }
  return daemon::LaunchedAgent{
      .pid = pid,
      .uid = session.uid,
      .exit_fd = std::move(*exit_fd),
      .start_failure = [child = std::move(*child)] { return child.start_failure(); }};
}

}  // namespace liaison::platform::macos
