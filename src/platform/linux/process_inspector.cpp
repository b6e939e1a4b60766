#include "platform/linux/process_inspector.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/syscall.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <system_error>

#include "platform/linux/proc_text.h"

namespace liaison::platform {
namespace {

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

std::optional<std::string> read_at(int directory, const char* name, size_t max_bytes) {
  UniqueFd fd(::openat(directory, name, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return std::nullopt;
  }
  std::string content(max_bytes, '\0');
  size_t filled = 0;
  while (filled < max_bytes) {
    ssize_t got = ::read(fd.get(), content.data() + filled, max_bytes - filled);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    filled += static_cast<size_t>(got);
  }
  content.resize(filled);
  return content;
}

struct FreeDeleter {
  void operator()(char* text) const { std::free(text); }  // NOLINT(cppcoreguidelines-no-malloc)
};

}  // namespace

std::expected<daemon::ProcessFacts, std::string> LinuxProcessInspector::facts_of(pid_t pid) const {
  // Everything is read through one /proc/<pid> directory fd: if the pid is reused meanwhile, the
  // reads fail instead of describing a stranger.
  UniqueFd directory(
      ::open(fmt::format("/proc/{}", pid).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory) {
    return std::unexpected(fmt::format("/proc/{}: {}", pid, errno_text(errno)));
  }
  auto stat = read_at(directory.get(), "stat", 4096);
  auto status = read_at(directory.get(), "status", 16384);
  if (!stat || !status) {
    return std::unexpected(fmt::format("pid {} is gone", pid));
  }
  auto start_time = start_time_from_stat(*stat);
  auto uid = real_uid_from_status(*status);
  if (!start_time || !uid) {
    return std::unexpected(fmt::format("pid {} is unreadable", pid));
  }
  daemon::ProcessFacts facts{.uid = *uid, .start_time = *start_time};
  char executable[4096];
  ssize_t length = ::readlinkat(directory.get(), "exe", executable, sizeof(executable) - 1);
  if (length > 0) {
    facts.executable.assign(executable, static_cast<size_t>(length));
  }

  // A process of a user's own service manager: its system unit is user@<uid>.service, and its
  // user unit is the unit it runs under there. A session's processes have a session instead.
  char* raw_unit = nullptr;
  if (sd_pid_get_user_unit(pid, &raw_unit) >= 0) {
    std::unique_ptr<char, FreeDeleter> unit(raw_unit);
    uid_t owner = 0;
    char* raw_system_unit = nullptr;
    const bool owned = sd_pid_get_owner_uid(pid, &owner) >= 0;
    const bool system_unit = sd_pid_get_unit(pid, &raw_system_unit) >= 0;
    std::unique_ptr<char, FreeDeleter> manager_unit(raw_system_unit);
    if (owned && system_unit &&
        std::string_view(manager_unit.get()) == fmt::format("user@{}.service", owner)) {
      facts.in_user_manager = true;
      facts.manager_uid = owner;
      facts.user_unit = unit.get();
    }
  }
  // Still the same process? (The pid could have been reused between the reads.)
  auto again = read_at(directory.get(), "stat", 4096);
  if (!again || start_time_from_stat(*again) != start_time) {
    return std::unexpected(fmt::format("pid {} is gone", pid));
  }
  return facts;
}

std::expected<UniqueFd, std::string> LinuxProcessInspector::watch(pid_t pid) const {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    return std::unexpected(fmt::format("pidfd_open({}): {}", pid, errno_text(errno)));
  }
  return pidfd;
}

void LinuxProcessInspector::signal(const UniqueFd& watch, int signal) const {
  ::syscall(SYS_pidfd_send_signal, watch.get(), signal, nullptr, 0);
}

}  // namespace liaison::platform
