#include "platform/macos/command_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

extern char** environ;

namespace liaison::platform::macos {
namespace {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

std::expected<Pipe, std::string> make_pipe() {
  int fds[2];
  if (pipe(fds) != 0) {
    return std::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  }
  // Close-on-exec (macOS has no pipe2): the child gets only the ends dup2'd onto 1 and 2.
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Reads both pipes until each reaches end of file.
void drain(int out_fd, int err_fd, std::string& out, std::string& err) {
  std::array<pollfd, 2> fds{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
  std::array<std::string*, 2> sinks{&out, &err};
  int open_count = 2;
  while (open_count > 0) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buffer[4096];
      const ssize_t count = read(fds[i].fd, buffer, sizeof buffer);
      if (count > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(count));
      } else if (count == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

std::expected<CommandResult, std::string> SpawnCommandRunner::run(
    const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return std::unexpected(std::string("no program to run"));
  }
  auto out_pipe = make_pipe();
  if (!out_pipe) {
    return std::unexpected(out_pipe.error());
  }
  auto err_pipe = make_pipe();
  if (!err_pipe) {
    return std::unexpected(err_pipe.error());
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe->write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe->write_end.get(), STDERR_FILENO);

  std::vector<char*> raw_argv;
  raw_argv.reserve(argv.size() + 1);
  for (const auto& argument : argv) {
    raw_argv.push_back(const_cast<char*>(argument.c_str()));
  }
  raw_argv.push_back(nullptr);

  pid_t pid = 0;
  const int spawn_error =
      posix_spawn(&pid, argv.front().c_str(), &actions, nullptr, raw_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    return std::unexpected(
        fmt::format("cannot run {}: {}", argv.front(), std::strerror(spawn_error)));
  }
  // Our copies of the write ends must close, or the reads below never see end of file.
  out_pipe->write_end.reset();
  err_pipe->write_end.reset();

  CommandResult result;
  drain(out_pipe->read_end.get(), err_pipe->read_end.get(), result.standard_output,
        result.standard_error);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return std::unexpected(fmt::format("waitpid: {}", std::strerror(errno)));
    }
  }
  result.exit_code = exit_code_of(status);
  return result;
}

}  // namespace liaison::platform::macos
