#include "platform/macos/user_context_probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"
#include "platform/macos/context_findings.h"
#include "platform/macos/launchd_plist.h"
#include "platform/posix/user_spawn.h"

namespace liaison::platform::macos {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxOutput = size_t{64} * 1024;

int exit_code_of(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// Runs `argv` as `uid` through spawn_as_user, keeping this process's environment, and collects
// its standard output; gives up (SIGKILL) after `deadline`.
asio::awaitable<std::expected<CommandResult, std::string>> run_setuid_only(
    std::vector<std::string> argv, uid_t uid, std::chrono::milliseconds deadline) {
  auto ids = user_ids_for(uid);
  if (!ids) {
    co_return std::unexpected(ids.error());
  }
  int fds[2];
  if (pipe(fds) != 0) {
    co_return std::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  fcntl(read_end.get(), F_SETFD, FD_CLOEXEC);
  fcntl(write_end.get(), F_SETFD, FD_CLOEXEC);
  auto spawned =
      spawn_as_user(UserSpawn{.user = *ids, .argv = std::move(argv), .stdout_fd = write_end.get()});
  if (!spawned) {
    co_return std::unexpected(spawned.error());
  }
  write_end.reset();  // end of file once the child is gone

  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor output(executor, read_end.release());
  asio::steady_timer timer(executor);
  timer.expires_after(deadline);
  bool timed_out = false;
  const pid_t child = spawned->pid();
  // Touches the captured locals only when it fired, i.e. while this coroutine still waits.
  timer.async_wait([&timed_out, &output, child](const std::error_code& error) {
    if (error) {
      return;
    }
    timed_out = true;
    kill(child, SIGKILL);
    output.cancel();
  });
  CommandResult result;
  char buffer[512];
  for (;;) {
    auto [error, count] = co_await output.async_read_some(asio::buffer(buffer), kNoThrow);
    result.standard_output.append(buffer, count);
    if (error || result.standard_output.size() > kMaxOutput) {
      break;
    }
  }
  timer.cancel();
  // It closed its output, so it is exiting: reap it without blocking the loop for long.
  int status = 0;
  for (int attempt = 0;; ++attempt) {
    const pid_t reaped = waitpid(child, &status, WNOHANG);
    if (reaped == child) {
      break;
    }
    if (reaped < 0 && errno != EINTR) {
      co_return std::unexpected(std::string("waitpid failed"));
    }
    if (attempt == 50) {
      kill(child, SIGKILL);
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    asio::steady_timer pause(executor, std::chrono::milliseconds(10));
    co_await pause.async_wait(kNoThrow);
  }
  if (timed_out) {
    co_return std::unexpected(fmt::format("no answer within {} ms", deadline.count()));
  }
  // A step before execve failed: its output ended with its exit, and it says which step.
  if (std::string failure = spawned->start_failure(); !failure.empty()) {
    co_return std::unexpected(failure);
  }
  result.exit_code = exit_code_of(status);
  co_return result;
}

}  // namespace

protocol::Finding MacUserContextProbe::check_user_manager(uid_t uid, const std::string& strategy) {
  auto domain = launchctl_.print_domain(uid);
  if (!domain) {
    return user_manager_finding(uid, strategy, LaunchctlOutcome::kFailed, domain.error(), nullptr);
  }
  if (strategy != "launch-agent" || domain->first != LaunchctlOutcome::kDone) {
    return user_manager_finding(uid, strategy, domain->first, domain->second, nullptr);
  }
  const auto job = launchctl_.print(uid, kAgentLabel);
  return user_manager_finding(uid, strategy, domain->first, domain->second, &job);
}

asio::awaitable<protocol::Finding> MacUserContextProbe::check_setuid_only_child(uid_t uid) {
  std::vector<std::string> argv{launchctl_path_, std::string("managername")};
  auto answer = co_await run_setuid_only(std::move(argv), uid, deadline_);
  co_return setuid_only_child_finding(uid, answer);
}

}  // namespace liaison::platform::macos
