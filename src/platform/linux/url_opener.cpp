#include "platform/linux/url_opener.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "common/log.h"
#include "common/unique_fd.h"
#include "platform/linux/transient_unit.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace liaison::platform {
namespace {

constexpr const char* kManagerName = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManagerInterface = "org.freedesktop.systemd1.Manager";
constexpr uint64_t kManagerTimeoutUsec = 2'000'000;
constexpr size_t kMaxUrlLength = 8192;

std::string errno_text(int error_number) {
  return std::generic_category().message(error_number < 0 ? -error_number : error_number);
}

std::string lower_case(std::string_view text) {
  std::string lowered(text);
  std::ranges::transform(lowered, lowered.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered;
}

bool has_whitespace_or_control(std::string_view url) {
  return std::ranges::any_of(url, [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

// "unix:path=" needs bytes outside [-0-9A-Za-z_/.*] escaped as %XX (D-Bus address syntax).
std::string dbus_address_escape(std::string_view value) {
  std::string escaped;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '/' || c == '.' || c == '*') {
      escaped += static_cast<char>(c);
    } else {
      escaped += fmt::format("%{:02x}", c);
    }
  }
  return escaped;
}

std::string_view variable_name(std::string_view entry) { return entry.substr(0, entry.find('=')); }

bool has_variable(const std::vector<std::string>& environment, std::string_view name) {
  return std::ranges::any_of(
      environment, [&](const std::string& entry) { return variable_name(entry) == name; });
}

std::string_view variable_value(const std::vector<std::string>& environment,
                                std::string_view name) {
  for (const std::string& entry : environment) {
    if (variable_name(entry) == name && entry.size() > name.size()) {
      return std::string_view(entry).substr(name.size() + 1);
    }
  }
  return {};
}

// The kDisplayVariables entries of `environment`: what the manager may lack or have stale.
std::vector<std::string> display_variables_of(const std::vector<std::string>& environment) {
  std::vector<std::string> display;
  for (const std::string& entry : environment) {
    if (std::ranges::find(kDisplayVariables, variable_name(entry)) != std::end(kDisplayVariables)) {
      display.push_back(entry);
    }
  }
  return display;
}

std::vector<std::string> own_environment() {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    entries.emplace_back(*entry);
  }
  return entries;
}

// A "NAME=value"* environment as the char* array exec wants; points into `entries`.
std::vector<char*> as_exec_array(std::vector<std::string>& entries) {
  std::vector<char*> pointers;
  pointers.reserve(entries.size() + 1);
  for (std::string& entry : entries) {
    pointers.push_back(entry.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

class SpawnFileActions {
 public:
  SpawnFileActions() { posix_spawn_file_actions_init(&actions_); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { posix_spawnattr_init(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes_); }
  posix_spawnattr_t* get() { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

// stdin from /dev/null, stdout and stderr shared (xdg-open's complaints land in our log), every
// other fd closed: asio opens sockets without O_CLOEXEC, and a browser holding the agent's
// connection to the daemon would keep a dead agent looking alive.
std::expected<void, std::string> prepare_child_fds(SpawnFileActions& actions) {
  if (int error =
          posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
      error != 0) {
    return std::unexpected(fmt::format("posix_spawn_file_actions_addopen: {}", errno_text(error)));
  }
  if (int error = posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1);
      error != 0) {
    return std::unexpected(
        fmt::format("posix_spawn_file_actions_addclosefrom_np: {}", errno_text(error)));
  }
  return {};
}

// Its own session (not killed with our process group), no blocked signals, default dispositions
// (the agent may ignore SIGPIPE or block signals for its loop; children inherit both).
std::expected<void, std::string> prepare_child_attributes(SpawnAttributes& attributes) {
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  int error = posix_spawnattr_setsigmask(attributes.get(), &none);
  if (error == 0) {
    error = posix_spawnattr_setsigdefault(attributes.get(), &all);
  }
  if (error == 0) {
    error = posix_spawnattr_setflags(
        attributes.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  }
  if (error != 0) {
    return std::unexpected(fmt::format("posix_spawnattr: {}", errno_text(error)));
  }
  return {};
}

void log_exit(const std::string& program, int wait_status) {
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    return;
  }
  if (WIFEXITED(wait_status)) {
    // xdg-open: 1 bad arguments, 2 file not found, 3 no tool to open it, 4 the tool failed.
    log::warning(fmt::format("{} exited with status {}", program, WEXITSTATUS(wait_status)));
  } else if (WIFSIGNALED(wait_status)) {
    log::warning(fmt::format("{} was killed by signal {}", program, WTERMSIG(wait_status)));
  }
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37), so C++ cannot link its
// pidfd_open: call the system call itself.
int open_pidfd(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// The fallback reaper. It runs no callback: those belong on the loop's thread.
void reap_from_thread(pid_t pid) {
  std::thread([pid] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }).detach();
}

}  // namespace

std::expected<void, std::string> check_url_is_openable(std::string_view url) {
  if (url.empty()) {
    return std::unexpected("the URL is empty");
  }
  if (url.size() > kMaxUrlLength) {
    return std::unexpected(fmt::format("the URL is longer than {} bytes", kMaxUrlLength));
  }
  if (has_whitespace_or_control(url)) {
    return std::unexpected("the URL contains whitespace or control characters");
  }
  size_t colon = url.find(':');
  std::string scheme = lower_case(url.substr(0, colon));
  if (colon == std::string_view::npos || scheme.empty()) {
    return std::unexpected("the URL has no scheme (http, https or mailto)");
  }
  std::string_view rest = url.substr(colon + 1);
  if (scheme == "http" || scheme == "https") {
    // An authority, not a path: "https:/etc/passwd" and "https:///x" are not web pages.
    if (!rest.starts_with("//") || rest.size() == 2 || rest[2] == '/' || rest[2] == '?' ||
        rest[2] == '#') {
      return std::unexpected(fmt::format("the {} URL has no host", scheme));
    }
    return {};
  }
  if (scheme == "mailto") {
    if (rest.empty()) {
      return std::unexpected("the mailto URL has no address");
    }
    return {};
  }
  return std::unexpected(fmt::format(
      "the URL's scheme \"{}\" is not opened: only http, https and mailto are", scheme));
}

std::vector<std::string> add_missing_display_variables(std::vector<std::string> base,
                                                       const std::vector<std::string>& session) {
  for (std::string_view name : kDisplayVariables) {
    if (has_variable(base, name)) {
      continue;
    }
    auto found = std::ranges::find_if(
        session, [&](const std::string& entry) { return variable_name(entry) == name; });
    if (found != session.end()) {
      base.push_back(*found);
    }
  }
  return base;
}

std::vector<std::string> refresh_display_variables(std::vector<std::string> base,
                                                   const std::vector<std::string>& session_now) {
  for (std::string_view name : kDisplayVariables) {
    auto fresh = std::ranges::find_if(
        session_now, [&](const std::string& entry) { return variable_name(entry) == name; });
    if (fresh == session_now.end()) {
      continue;
    }
    std::erase_if(base, [&](const std::string& entry) { return variable_name(entry) == name; });
    base.push_back(*fresh);
  }
  return base;
}

namespace {

// The manager's private socket, where there is one: it answers even where the manager is not on
// the session bus (a session bus that dbus-launch started per X login).
SdBusPtr connect_to_private_socket() {
  const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  if (runtime_dir == nullptr) {
    return nullptr;
  }
  std::string socket = fmt::format("{}/systemd/private", runtime_dir);
  if (access(socket.c_str(), F_OK) != 0) {
    return nullptr;
  }
  sd_bus* raw = nullptr;
  if (sd_bus_new(&raw) < 0) {
    return nullptr;
  }
  SdBusPtr bus(raw);
  std::string address = "unix:path=" + dbus_address_escape(socket);
  if (sd_bus_set_address(bus.get(), address.c_str()) < 0) {
    return nullptr;
  }
  if (sd_bus_start(bus.get()) < 0) {
    return nullptr;
  }
  return bus;
}

}  // namespace

std::expected<SdBusPtr, std::string> connect_to_user_manager() {
  SdBusPtr bus = connect_to_private_socket();
  if (!bus) {
    sd_bus* raw = nullptr;
    if (int result = sd_bus_open_user(&raw); result < 0) {
      return std::unexpected(
          fmt::format("cannot reach the user's service manager: {}", errno_text(result)));
    }
    bus.reset(raw);
  }
  // A click waits on these calls: a hung manager must not hold the agent for sd-bus's 25 s.
  sd_bus_set_method_call_timeout(bus.get(), kManagerTimeoutUsec);
  return bus;
}

std::expected<std::vector<std::string>, std::string> read_user_manager_environment(
    sd_bus* manager) {
  SdBusError error;
  char** raw = nullptr;
  int result = sd_bus_get_property_strv(manager, kManagerName, kManagerPath, kManagerInterface,
                                        "Environment", error.get(), &raw);
  if (result < 0) {
    return std::unexpected(fmt::format("cannot read the user's service manager environment: {}",
                                       error.describe(result)));
  }
  StrvPtr strv(raw);
  std::vector<std::string> entries;
  for (char** entry = strv.get(); entry != nullptr && *entry != nullptr; ++entry) {
    entries.emplace_back(*entry);
  }
  return entries;
}

std::string find_program(const std::string& program, std::string_view path_value) {
  if (program.find('/') != std::string::npos) {
    return program;
  }
  while (!path_value.empty()) {
    size_t colon = path_value.find(':');
    std::string_view directory = path_value.substr(0, colon);
    path_value =
        colon == std::string_view::npos ? std::string_view() : path_value.substr(colon + 1);
    if (!directory.starts_with('/')) {
      continue;  // an empty or relative entry would depend on the agent's working directory
    }
    std::string candidate = fmt::format("{}/{}", directory, program);
    struct stat facts {};
    if (stat(candidate.c_str(), &facts) == 0 && S_ISREG(facts.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return {};
}

std::expected<void, std::string> start_in_user_manager(
    sd_bus* manager, const std::string& unit, const std::vector<std::string>& command,
    const std::vector<std::string>& environment) {
  sd_bus_message* raw_message = nullptr;
  int result = sd_bus_message_new_method_call(manager, &raw_message, kManagerName, kManagerPath,
                                              kManagerInterface, "StartTransientUnit");
  SdBusMessagePtr message(raw_message);
  if (result < 0) {
    return std::unexpected(
        fmt::format("cannot ask the user's manager to start {}: {}", unit, errno_text(result)));
  }
  TransientService service{.name = unit,
                           .description = "Opened from a notification by liaison",
                           .command = command,
                           .environment = environment};
  if (auto appended = append_transient_service(message.get(), service); !appended) {
    return appended;
  }
  SdBusError error;
  sd_bus_message* raw_reply = nullptr;
  result = sd_bus_call(manager, message.get(), 0, error.get(), &raw_reply);
  SdBusMessagePtr reply(raw_reply);
  if (result < 0) {
    return std::unexpected(
        fmt::format("the user's manager did not start {}: {}", unit, error.describe(result)));
  }
  return {};
}

XdgUrlOpener::XdgUrlOpener(asio::io_context& io, XdgUrlOpenerOptions options)
    : io_(io), options_(std::move(options)) {}

// Our own environment, plus the display variables the user's manager learned after we started.
std::vector<std::string> XdgUrlOpener::child_environment(sd_bus* manager) const {
  std::vector<std::string> environment = own_environment();
  if (options_.session_environment) {
    environment = refresh_display_variables(std::move(environment), options_.session_environment());
  }
  bool lacks_some = std::ranges::any_of(
      kDisplayVariables, [&](std::string_view name) { return !has_variable(environment, name); });
  if (!lacks_some || manager == nullptr) {
    return environment;
  }
  auto session = read_user_manager_environment(manager);
  if (!session) {
    log::warning(session.error());
    return environment;
  }
  return add_missing_display_variables(std::move(environment), *session);
}

std::expected<void, std::string> XdgUrlOpener::open(const std::string& url) {
  if (auto openable = check_url_is_openable(url); !openable) {
    return openable;
  }

  SdBusPtr manager;
  if (options_.connect_user_manager) {
    auto connected = options_.connect_user_manager();
    if (connected) {
      manager = std::move(*connected);
    } else {
      log::warning(connected.error());
    }
  }
  std::vector<std::string> environment = child_environment(manager.get());
  if (manager) {
    std::string program = find_program(options_.program, variable_value(environment, "PATH"));
    if (program.empty()) {
      return std::unexpected(fmt::format("cannot start {}: not found in PATH", options_.program));
    }
    std::string unit = fmt::format("app-liaison-open-{}-{}.service", getpid(), ++opened_);
    auto started = start_in_user_manager(manager.get(), unit, {program, url},
                                         display_variables_of(environment));
    if (started) {
      log::info(fmt::format("opening a URL with {} in the user's {}", program, unit));
      return {};
    }
    log::warning(fmt::format("{}; the agent starts {} itself", started.error(), program));
  }
  return spawn(url, std::move(environment));
}

std::expected<void, std::string> XdgUrlOpener::spawn(const std::string& url,
                                                     std::vector<std::string> environment) {
  SpawnFileActions actions;
  if (auto prepared = prepare_child_fds(actions); !prepared) {
    return prepared;
  }
  SpawnAttributes attributes;
  if (auto prepared = prepare_child_attributes(attributes); !prepared) {
    return prepared;
  }
  std::string program = options_.program;
  std::string argument = url;  // one argv element: no shell ever sees it
  std::vector<char*> argv = {program.data(), argument.data(), nullptr};
  std::vector<char*> envp = as_exec_array(environment);
  pid_t pid = 0;
  if (int error = posix_spawnp(&pid, program.c_str(), actions.get(), attributes.get(), argv.data(),
                               envp.data());
      error != 0) {
    return std::unexpected(fmt::format("cannot start {}: {}", program, errno_text(error)));
  }
  reap_when_done(pid);
  return {};
}

// A pidfd turns readable when the child exits; waiting on it in the loop reaps the child without
// a SIGCHLD handler that would steal other children's exits.
void XdgUrlOpener::reap_when_done(pid_t pid) {
  std::string program = options_.program;
  std::function<void(int)> on_exit = options_.on_exit;
  auto finish = [program = std::move(program), on_exit = std::move(on_exit)](int wait_status) {
    log_exit(program, wait_status);
    if (on_exit) {
      on_exit(wait_status);
    }
  };
  UniqueFd pidfd(open_pidfd(pid));
  auto descriptor = std::make_shared<asio::posix::stream_descriptor>(io_);
  std::error_code error;
  if (pidfd) {
    descriptor->assign(pidfd.get(), error);
  }
  if (!pidfd || error) {
    // Kernels before 5.3 (no pidfd_open): a thread blocked in waitpid for this one child.
    log::debug(fmt::format("cannot watch pid {} with a pidfd; reaping it from a thread", pid));
    reap_from_thread(pid);
    return;
  }
  pidfd.release();  // the descriptor owns it now
  descriptor->async_wait(
      asio::posix::descriptor_base::wait_read,
      [descriptor, pid, finish = std::move(finish)](const std::error_code& error) {
        if (error) {
          return reap_from_thread(pid);  // cannot tell whether it has exited yet
        }
        int status = 0;
        // Readable: the child has exited, so this returns at once.
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        finish(status);
      });
}

}  // namespace liaison::platform
