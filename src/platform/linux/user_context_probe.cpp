#include "platform/linux/user_context_probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/unique_fd.h"
#include "platform/linux/dbus_notifier.h"
#include "platform/linux/passwd.h"
#include "platform/linux/polkit_agent_registry.h"
#include "platform/linux/user_manager.h"
#include "platform/posix/forked_child.h"
#include "protocol/json_rpc.h"

namespace liaison::platform {
namespace {

using protocol::Finding;
using protocol::Json;

constexpr char kSetuidCheck[] = "setuid-only-child";
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("Threads:")) {
      return std::atoi(line.c_str() + 8);
    }
  }
  return -1;  // unknown: treated as "more than one"
}

void write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    written += static_cast<std::size_t>(n);
  }
}

// The child runs as the user, who may signal it (its real uid becomes theirs): it must not keep
// the daemon's signal handlers (asio's SIGTERM handler would write to the daemon's self-pipe and
// stop the daemon with exit 0) nor any of its fds (sockets, the journal, key files). Issue 11,
// attack 5. Returns what is left, for the report: the test checks it is nothing.
Json shed_the_daemon(int report_fd) {
  reset_signal_dispositions();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const auto report = static_cast<unsigned>(report_fd);
  const bool below = report <= 3 || ::close_range(3, report - 1, 0) == 0;
  if (!below || ::close_range(report + 1, ~0U, 0) != 0) {  // kernels before 5.9
    const long last = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < last; ++fd) {
      if (fd != report_fd) {
        ::close(fd);
      }
    }
  }
  int handled = 0;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    struct sigaction action {};
    if (::sigaction(signal_number, nullptr, &action) == 0 && action.sa_handler != SIG_DFL) {
      ++handled;
    }
  }
  int fds = 0;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ignored)) {
    const int fd = std::atoi(entry.path().filename().c_str());
    fds += fd > 2 && fd != report_fd ? 1 : 0;  // the iterator's own fd is counted: at most one
  }
  return {{"fds", fds}, {"signal_handlers", handled}};
}

// The child: what a root daemon that merely setuid()s to the user gets. It keeps the daemon's
// environment (no XDG_RUNTIME_DIR, no DBUS_SESSION_BUS_ADDRESS under systemd), drops groups,
// gid and uid, and tries the session bus and the notification server as an agent would.
[[noreturn]] void run_setuid_only_child(const PasswdEntry& user, int report_fd) {
  Json report = Json::object();
  report["child_inherited"] = shed_the_daemon(report_fd);  // read /proc/self while still root
  const gid_t gid = user.gid;
  if (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(user.uid) != 0) {
    report["error"] = fmt::format("cannot drop to uid {}: {}", user.uid, std::strerror(errno));
    write_all(report_fd, report.dump());
    ::_exit(1);
  }
  auto bus = open_session_bus();
  if (!bus) {
    report["bus_error"] = bus.error();
  } else {
    const char* address = nullptr;
    sd_bus_get_address(bus->get(), &address);
    report["bus"] = address != nullptr ? address : "";
    auto notifier = DbusNotifier::connect_on_bus(std::move(*bus), agent::NotifierEvents{});
    if (!notifier) {
      report["server_error"] = notifier.error();
    } else if (auto server = (*notifier)->server_information()) {
      report["server"] = server->name;
    } else {
      report["server_error"] = server.error();
    }
  }
  write_all(report_fd, report.dump());
  ::_exit(0);
}

}  // namespace

Finding setuid_only_child_finding(const std::string& user, uid_t uid, const std::string& report) {
  const std::string who = fmt::format(
      "a process that only setuid()s to {} (uid {}), as a naive root daemon would,", user, uid);
  // Written by a child running as the user: bounded in depth like everything from the user.
  const Json facts = protocol::parse_json(report).value_or(Json());
  if (!facts.is_object()) {
    return Finding::info(kSetuidCheck,
                         fmt::format("{} reported nothing readable: \"{}\"", who, report));
  }
  if (facts.contains("error")) {
    return Finding::info(kSetuidCheck, fmt::format("not tried: {}", facts.value("error", "")),
                         facts);
  }
  if (facts.contains("bus_error")) {
    return Finding::info(kSetuidCheck,
                         fmt::format("{} gets: {}; this is why liaison runs an agent in the "
                                     "session's own context",
                                     who, facts.value("bus_error", "")),
                         facts);
  }
  if (facts.contains("server_error")) {
    return Finding::info(kSetuidCheck,
                         fmt::format("{} reaches the bus at {} but: {}", who,
                                     facts.value("bus", ""), facts.value("server_error", "")),
                         facts);
  }
  return Finding::info(kSetuidCheck,
                       fmt::format("{} reaches the bus at {} and the notification server {}: the "
                                   "daemon's own environment leads it there",
                                   who, facts.value("bus", ""), facts.value("server", "")),
                       facts);
}

Finding LinuxUserContextProbe::check_user_manager(uid_t uid, const std::string& strategy) {
  auto manager = UserManager::connect(uid, kManagerTimeout);
  if (!manager) {
    return Finding::fail(
        "user-manager", fmt::format("user@{}.service cannot be reached: {}", uid, manager.error()),
        fmt::format("the {} strategy starts agents through the user's service manager, which "
                    "starts at login: systemctl status user@{}.service says why it is not there",
                    strategy, uid));
  }
  const std::string unit = agent_unit_of(strategy);
  auto status = manager->unit_status(unit);
  if (!status) {
    return Finding::fail("user-manager",
                         fmt::format("user@{}.service runs but cannot tell {}'s state: {}", uid,
                                     unit, status.error()),
                         fmt::format("systemctl --user -M {}@ status {}", uid, unit));
  }
  Json facts = {{"manager", fmt::format("user@{}.service", uid)},
                {"unit", unit},
                {"load_state", status->load_state},
                {"active_state", status->active_state},
                {"sub_state", status->sub_state}};
  const std::string detail =
      fmt::format("user@{}.service runs; {} is {} ({}, {})", uid, unit, status->active_state,
                  status->load_state, status->sub_state);
  if (status->active_state == "failed") {
    return Finding::fail("user-manager", detail,
                         fmt::format("journalctl --user -M {}@ -u {} says why", uid, unit),
                         std::move(facts));
  }
  return Finding::ok("user-manager", detail, std::move(facts));
}

asio::awaitable<Finding> LinuxUserContextProbe::check_setuid_only_child(uid_t uid) {
  auto user = passwd_by_uid(uid);
  if (!user) {
    co_return Finding::info(kSetuidCheck, fmt::format("not tried: {}", user.error()));
  }
  if (thread_count() != 1) {
    co_return Finding::info(kSetuidCheck,
                            "not tried: this process runs several threads, and a forked child "
                            "of a threaded process must not use the session bus");
  }
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    co_return Finding::info(kSetuidCheck, fmt::format("not tried: pipe: {}", std::strerror(errno)));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) {
    co_return Finding::info(kSetuidCheck, fmt::format("not tried: fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    read_end.reset();
    run_setuid_only_child(*user, write_end.get());
  }
  write_end.reset();

  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor pipe(executor, read_end.release());
  asio::steady_timer deadline(executor);
  deadline.expires_after(kChildDeadline);
  bool timed_out = false;
  deadline.async_wait([&pipe, &timed_out](const std::error_code& error) {
    if (error) {
      return;  // cancelled: the child answered in time
    }
    timed_out = true;
    pipe.cancel();
  });
  std::string report;
  std::array<char, 4096> chunk{};
  while (report.size() < 65536) {
    auto [error, got] = co_await pipe.async_read_some(asio::buffer(chunk), kNoThrow);
    if (error) {
      break;  // EOF: the child is done (or the deadline cancelled the read)
    }
    report.append(chunk.data(), got);
  }
  deadline.cancel();
  if (timed_out) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    co_return Finding::info(
        kSetuidCheck,
        fmt::format("a process that only setuid()s to {} hung for {} ms trying the session bus",
                    user->name, kChildDeadline.count()));
  }
  co_return setuid_only_child_finding(user->name, uid, report);
}

std::map<std::string, protocol::Finding> LinuxUserContextProbe::check_authentication_agents(
    const std::vector<std::string>& session_ids) {
  return authentication_agent_findings(session_ids);
}

}  // namespace liaison::platform
