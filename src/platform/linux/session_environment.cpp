#include "platform/linux/session_environment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <system_error>

#include "common/log.h"
#include "common/unique_fd.h"
#include "platform/linux/logind_session_source.h"
#include "platform/linux/proc_text.h"

namespace liaison::platform {
namespace {

// ---------------------------------------------------------------------------------------------
// Validation. Every value comes from a place the user controls (their manager, their processes);
// the agent runs as that user, so the point is not secrecy but keeping garbage out: a newline in
// a value breaks whoever prints the environment, a DISPLAY like "evil;cmd" breaks parsers.

constexpr size_t kMaxValueLength = 4096;

bool has_only_printable_characters(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

bool is_sane_value(std::string_view value) {
  return !value.empty() && value.size() <= kMaxValueLength && has_only_printable_characters(value);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_name_character(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
         c == '-';
}

bool all_of(std::string_view text, bool (*predicate)(char)) {
  return std::all_of(text.begin(), text.end(), predicate);
}

bool is_digits(std::string_view text) { return !text.empty() && all_of(text, is_digit); }

// An absolute path without "." or ".." components.
bool is_clean_absolute_path(std::string_view path) {
  if (!path.starts_with('/') || !is_sane_value(path)) {
    return false;
  }
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    std::string_view component = path.substr(start, end - start);
    if (component == "." || component == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// [host]:display[.screen], e.g. ":0", ":1.0", "localhost:10.0", "unix:0".
bool is_valid_x_display(std::string_view display) {
  size_t colon = display.rfind(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  std::string_view host = display.substr(0, colon);
  std::string_view number = display.substr(colon + 1);
  size_t dot = number.find('.');
  if (dot != std::string_view::npos) {
    if (!is_digits(number.substr(dot + 1))) {
      return false;
    }
    number = number.substr(0, dot);
  }
  if (!is_digits(number)) {
    return false;
  }
  return all_of(host, [](char c) {
    return is_name_character(c) || c == '/' || c == ':' || c == '[' || c == ']';
  });
}

// A socket name under $XDG_RUNTIME_DIR ("wayland-0") or an absolute socket path.
bool is_valid_wayland_display(std::string_view display) {
  if (display.starts_with('/')) {
    return is_clean_absolute_path(display);
  }
  return !display.empty() && display != "." && display != ".." &&
         all_of(display, is_name_character);
}

bool is_valid_desktop_list(std::string_view desktops) {
  return !desktops.empty() &&
         all_of(desktops, [](char c) { return is_name_character(c) || c == ':'; });
}

// Colon-separated absolute paths; empty elements (a stray "::") are tolerated, as readers skip
// them.
bool is_valid_path_list(std::string_view paths) {
  bool any_path = false;
  size_t start = 0;
  while (start <= paths.size()) {
    size_t end = paths.find(':', start);
    if (end == std::string_view::npos) {
      end = paths.size();
    }
    std::string_view path = paths.substr(start, end - start);
    if (!path.empty()) {
      if (!is_clean_absolute_path(path)) {
        return false;
      }
      any_path = true;
    }
    start = end + 1;
  }
  return any_path;
}

// "C", "C.UTF-8", "en_US.UTF-8", "de_DE@euro".
bool is_valid_locale(std::string_view locale) {
  return !locale.empty() && locale.size() <= 128 &&
         all_of(locale, [](char c) { return is_name_character(c) || c == '@'; });
}

bool is_locale_key(std::string_view key) {
  if (key == "LANG") {
    return true;
  }
  if (!key.starts_with("LC_") || key.size() == 3) {
    return false;
  }
  return all_of(key.substr(3), [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

// ---------------------------------------------------------------------------------------------
// Reading KEY=VALUE lists.

// The value of the first `key` entry in `entries`, as getenv(3) would see it.
std::optional<std::string_view> find_value(const std::vector<std::string>& entries,
                                           std::string_view key) {
  for (const std::string& entry : entries) {
    if (entry.size() > key.size() && entry.starts_with(key) && entry[key.size()] == '=') {
      return std::string_view(entry).substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

struct SessionVariable {
  std::string_view key;
  bool (*is_valid)(std::string_view);
};

// Taken from the first source with a valid value; logind only knows DISPLAY.
constexpr SessionVariable kSessionVariables[] = {
    {"DISPLAY", is_valid_x_display},        {"WAYLAND_DISPLAY", is_valid_wayland_display},
    {"XAUTHORITY", is_clean_absolute_path}, {"XDG_CURRENT_DESKTOP", is_valid_desktop_list},
    {"XDG_DATA_DIRS", is_valid_path_list},
};

std::optional<std::string> first_valid_value(const EnvironmentInputs& inputs,
                                             const SessionVariable& variable) {
  if (variable.key == "DISPLAY" && is_sane_value(inputs.session.display) &&
      variable.is_valid(inputs.session.display)) {
    return inputs.session.display;
  }
  auto valid = [&](std::string_view value) {
    return is_sane_value(value) && variable.is_valid(value);
  };
  if (auto value = find_value(inputs.manager_environment, variable.key); value && valid(*value)) {
    return std::string(*value);
  }
  for (const auto& environment : inputs.process_environments) {
    if (auto value = find_value(environment, variable.key); value && valid(*value)) {
      return std::string(*value);
    }
  }
  return std::nullopt;
}

void add_locale(const std::vector<std::string>& manager_environment,
                std::map<std::string, std::string>& variables) {
  for (const std::string& entry : manager_environment) {
    size_t equals = entry.find('=');
    if (equals == std::string::npos) {
      continue;
    }
    std::string key = entry.substr(0, equals);
    std::string value = entry.substr(equals + 1);
    // emplace keeps the first occurrence, as getenv(3) would.
    if (is_locale_key(key) && is_valid_locale(value)) {
      variables.emplace(key, value);
    }
  }
}

}  // namespace

std::vector<std::string> build_agent_environment(const EnvironmentInputs& inputs) {
  const PasswdEntry& account = inputs.account;
  const daemon::Session& session = inputs.session;
  std::string runtime_dir = fmt::format("/run/user/{}", account.uid);

  std::map<std::string, std::string> variables;
  auto set_if_sane = [&variables](std::string key, const std::string& value) {
    if (is_sane_value(value)) {
      variables[std::move(key)] = value;
    }
  };
  set_if_sane("HOME", is_clean_absolute_path(account.home) ? account.home : "/");
  set_if_sane("SHELL", account.shell.empty() ? "/bin/sh" : account.shell);
  set_if_sane("USER", account.name);
  set_if_sane("LOGNAME", account.name);
  variables["PATH"] = kAgentPath;
  variables["XDG_RUNTIME_DIR"] = runtime_dir;
  variables["DBUS_SESSION_BUS_ADDRESS"] = fmt::format("unix:path={}/bus", runtime_dir);
  set_if_sane("XDG_SESSION_ID", session.id);
  set_if_sane("XDG_SESSION_TYPE", session.type);
  set_if_sane("XDG_SEAT", session.seat);
  for (const SessionVariable& variable : kSessionVariables) {
    if (auto value = first_valid_value(inputs, variable)) {
      variables[std::string(variable.key)] = *value;
    }
  }
  add_locale(inputs.manager_environment, variables);

  std::vector<std::string> environment;
  environment.reserve(variables.size());
  for (const auto& [key, value] : variables) {
    environment.push_back(std::string(key).append("=").append(value));
  }
  return environment;
}

// ---------------------------------------------------------------------------------------------
// The user's service manager.

namespace {

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

struct BusDeleter {
  void operator()(sd_bus* bus) const { sd_bus_close_unref(bus); }
};
struct SlotDeleter {
  void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};

// D-Bus address values escape every byte outside [-0-9A-Za-z_/.*] as %XX.
std::string escape_address_value(std::string_view value) {
  std::string escaped;
  for (char c : value) {
    bool plain = is_name_character(c) || c == '/' || c == '*';
    if (plain) {
      escaped += c;
    } else {
      escaped += fmt::format("%{:02x}", static_cast<unsigned char>(c));
    }
  }
  return escaped;
}

struct PendingEnvironment {
  bool done = false;
  std::expected<std::vector<std::string>, std::string> result;
};

int on_environment_reply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
  auto& pending = *static_cast<PendingEnvironment*>(userdata);
  pending.done = true;
  if (const sd_bus_error* error = sd_bus_message_get_error(reply); error != nullptr) {
    pending.result = std::unexpected(fmt::format("{}: {}", error->name ? error->name : "error",
                                                 error->message ? error->message : ""));
    return 0;
  }
  char** strings = nullptr;
  int result = sd_bus_message_enter_container(reply, 'v', "as");
  if (result >= 0) {
    result = sd_bus_message_read_strv(reply, &strings);
  }
  if (result < 0) {
    pending.result =
        std::unexpected(fmt::format("malformed Environment reply: {}", errno_text(-result)));
    return 0;
  }
  std::vector<std::string> environment;
  for (char** entry = strings; entry != nullptr && *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
    std::free(*entry);  // NOLINT(cppcoreguidelines-no-malloc)
  }
  std::free(strings);  // NOLINT(cppcoreguidelines-no-malloc)
  pending.result = std::move(environment);
  return 0;
}

// The uid that created the listening socket at the other end of `bus` (SO_PEERCRED).
std::expected<uid_t, std::string> listener_uid(sd_bus* bus) {
  int fd = sd_bus_get_fd(bus);
  if (fd < 0) {
    return std::unexpected(fmt::format("sd_bus_get_fd: {}", errno_text(-fd)));
  }
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return std::unexpected(fmt::format("SO_PEERCRED: {}", errno_text(errno)));
  }
  return credentials.uid;
}

// Runs the bus until the pending call is answered or the deadline passes.
std::expected<void, std::string> wait_for_reply(sd_bus* bus, const PendingEnvironment& pending,
                                                std::chrono::steady_clock::time_point deadline,
                                                std::chrono::milliseconds timeout) {
  while (!pending.done) {
    int result = sd_bus_process(bus, nullptr);
    if (result < 0) {
      return std::unexpected(fmt::format("sd_bus_process: {}", errno_text(-result)));
    }
    if (result > 0) {
      continue;
    }
    auto remaining = deadline - std::chrono::steady_clock::now();
    if (remaining <= std::chrono::steady_clock::duration::zero()) {
      return std::unexpected(fmt::format("no answer within {} ms", timeout.count()));
    }
    auto remaining_usec = std::chrono::duration_cast<std::chrono::microseconds>(remaining).count();
    result = sd_bus_wait(bus, static_cast<uint64_t>(remaining_usec));
    if (result < 0 && result != -EINTR) {
      return std::unexpected(fmt::format("sd_bus_wait: {}", errno_text(-result)));
    }
  }
  return {};
}

using BusPointer = std::unique_ptr<sd_bus, BusDeleter>;

// A direct connection to the manager at `socket_path` (as `systemctl --user` makes): no bus
// daemon, no Hello. nullptr when no manager listens there (no socket, or a stale one).
std::expected<BusPointer, std::string> connect_to_manager(const std::string& socket_path,
                                                          std::chrono::milliseconds timeout) {
  sd_bus* raw_bus = nullptr;
  int result = sd_bus_new(&raw_bus);
  if (result < 0) {
    return std::unexpected(fmt::format("sd_bus_new: {}", errno_text(-result)));
  }
  BusPointer bus(raw_bus);
  std::string address = "unix:path=" + escape_address_value(socket_path);
  auto timeout_usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  result = sd_bus_set_address(bus.get(), address.c_str());
  if (result >= 0) {
    result = sd_bus_set_method_call_timeout(bus.get(), timeout_usec);
  }
  if (result >= 0) {
    result = sd_bus_start(bus.get());
  }
  if (result == -ENOENT || result == -ECONNREFUSED) {
    return BusPointer();
  }
  if (result < 0) {
    return std::unexpected(fmt::format("connect: {}", errno_text(-result)));
  }
  return bus;
}

// Get(org.freedesktop.systemd1.Manager, Environment), answered before `deadline` or an error.
std::expected<std::vector<std::string>, std::string> get_environment_property(
    sd_bus* bus, std::chrono::steady_clock::time_point deadline,
    std::chrono::milliseconds timeout) {
  PendingEnvironment pending;
  sd_bus_slot* raw_slot = nullptr;
  int result = sd_bus_call_method_async(
      bus, &raw_slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
      "org.freedesktop.DBus.Properties", "Get", on_environment_reply, &pending, "ss",
      "org.freedesktop.systemd1.Manager", "Environment");
  if (result < 0) {
    return std::unexpected(fmt::format("Get Environment: {}", errno_text(-result)));
  }
  std::unique_ptr<sd_bus_slot, SlotDeleter> slot(raw_slot);
  // sd_bus_call() would block up to 90 s while authenticating; this loop honours our deadline.
  if (auto waited = wait_for_reply(bus, pending, deadline, timeout); !waited) {
    return std::unexpected(waited.error());
  }
  return std::move(pending.result);
}

}  // namespace

std::expected<std::vector<std::string>, std::string> read_manager_environment(
    const std::string& socket_path, uid_t expected_uid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fail = [&socket_path](const std::string& what) {
    return std::unexpected(fmt::format("service manager at {}: {}", socket_path, what));
  };
  auto bus = connect_to_manager(socket_path, timeout);
  if (!bus) {
    return fail(bus.error());
  }
  // Not running (yet): nothing to learn from it, which is not an error.
  if (!*bus) {
    return std::vector<std::string>();
  }

  // Only the user's own manager may describe the user's session: a symlink planted at this path
  // must not lead us to another user's manager.
  auto uid = listener_uid(bus->get());
  if (!uid) {
    return fail(uid.error());
  }
  if (*uid != expected_uid) {
    return fail(fmt::format("listener is uid {}, not {}", *uid, expected_uid));
  }
  auto environment = get_environment_property(bus->get(), deadline, timeout);
  if (!environment) {
    return fail(environment.error());
  }
  return environment;
}

// ---------------------------------------------------------------------------------------------
// The session's processes.

std::vector<std::string> cgroup_procs_candidates(std::string_view proc_pid_cgroup) {
  std::vector<std::string> unified;
  std::vector<std::string> named_systemd;
  size_t start = 0;
  while (start < proc_pid_cgroup.size()) {
    size_t end = proc_pid_cgroup.find('\n', start);
    if (end == std::string_view::npos) {
      end = proc_pid_cgroup.size();
    }
    std::string_view line = proc_pid_cgroup.substr(start, end - start);
    start = end + 1;
    // hierarchy-id:controllers:path
    size_t first = line.find(':');
    size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) {
      continue;
    }
    std::string_view hierarchy = line.substr(0, first);
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string_view path = line.substr(second + 1);
    if (!is_clean_absolute_path(path) || path == "/") {
      continue;
    }
    if (hierarchy == "0" && controllers.empty()) {
      unified.push_back(fmt::format("/sys/fs/cgroup{}/cgroup.procs", path));
      unified.push_back(fmt::format("/sys/fs/cgroup/unified{}/cgroup.procs", path));
    } else if (controllers == "name=systemd") {
      named_systemd.push_back(fmt::format("/sys/fs/cgroup/systemd{}/cgroup.procs", path));
    }
  }
  unified.insert(unified.end(), named_systemd.begin(), named_systemd.end());
  return unified;
}

namespace {

std::optional<std::string> read_file_at(int directory_fd, const char* name, size_t max_bytes) {
  UniqueFd fd(openat(directory_fd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return std::nullopt;
  }
  std::string content(max_bytes, '\0');
  size_t filled = 0;
  while (filled < max_bytes) {
    ssize_t count = read(fd.get(), content.data() + filled, max_bytes - filled);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count < 0) {
      return std::nullopt;
    }
    if (count == 0) {
      break;
    }
    filled += static_cast<size_t>(count);
  }
  content.resize(filled);
  return content;
}

std::optional<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  return read_file_at(AT_FDCWD, path.c_str(), max_bytes);
}

// logind's own naming, for when the leader is gone and cannot tell us its cgroup.
std::string conventional_session_cgroup(const daemon::Session& session) {
  std::string path =
      fmt::format("/user.slice/user-{}.slice/session-{}.scope", session.uid, session.id);
  return fmt::format("0::{}\n1:name=systemd:{}\n", path, path);
}

// The pids in the session's scope, the leader first, at most `max_processes`.
std::vector<pid_t> session_process_ids(const daemon::Session& session, size_t max_processes) {
  std::optional<std::string> cgroup;
  if (session.leader > 0) {
    cgroup = read_small_file(fmt::format("/proc/{}/cgroup", session.leader), 16384);
  }
  if (!cgroup || cgroup_procs_candidates(*cgroup).empty()) {
    cgroup = conventional_session_cgroup(session);
  }
  std::vector<pid_t> pids;
  for (const std::string& candidate : cgroup_procs_candidates(*cgroup)) {
    if (auto members = read_small_file(candidate, 1 << 20)) {
      pids = parse_pids(*members);
      break;
    }
  }
  std::sort(pids.begin(), pids.end());
  if (auto leader = std::find(pids.begin(), pids.end(), session.leader); leader != pids.end()) {
    std::rotate(pids.begin(), leader, leader + 1);
  }
  if (pids.size() > max_processes) {
    pids.resize(max_processes);
  }
  return pids;
}

}  // namespace

std::optional<std::vector<std::string>> read_process_environment(pid_t pid, uid_t uid,
                                                                 size_t max_bytes) {
  // Both files are opened relative to one /proc/<pid> directory fd, which stays bound to this
  // process: if the pid is reused meanwhile, the openat calls fail instead of reading a stranger.
  UniqueFd directory(
      open(fmt::format("/proc/{}", pid).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory) {
    return std::nullopt;
  }
  UniqueFd environ_fd(openat(directory.get(), "environ", O_RDONLY | O_CLOEXEC));
  if (!environ_fd) {
    return std::nullopt;
  }
  auto status = read_file_at(directory.get(), "status", 16384);
  if (!status || !runs_as(*status, uid)) {
    return std::nullopt;
  }
  std::string data(max_bytes + 1, '\0');
  size_t filled = 0;
  while (filled < data.size()) {
    ssize_t count = read(environ_fd.get(), data.data() + filled, data.size() - filled);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count < 0) {
      return std::nullopt;
    }
    if (count == 0) {
      break;
    }
    filled += static_cast<size_t>(count);
  }
  bool truncated = filled > max_bytes;
  data.resize(std::min(filled, max_bytes));
  return split_environ(data, truncated);
}

std::expected<EnvironmentInputs, std::string> gather_environment_inputs(
    const daemon::Session& session, const GatherOptions& options) {
  auto account = passwd_by_uid(session.uid);
  if (!account) {
    return std::unexpected(account.error());
  }
  EnvironmentInputs inputs{.account = std::move(*account), .session = session};

  std::string socket_path = options.manager_socket_path.empty()
                                ? fmt::format("/run/user/{}/systemd/private", session.uid)
                                : options.manager_socket_path;
  auto manager = read_manager_environment(socket_path, session.uid, options.manager_timeout);
  if (manager) {
    inputs.manager_environment = std::move(*manager);
  } else {
    log::warning(
        fmt::format("agent environment without the service manager's: {}", manager.error()),
        {{"LIAISON_SESSION", session.id}});
  }

  for (pid_t pid : session_process_ids(session, options.max_processes)) {
    if (auto environment = read_process_environment(pid, session.uid, options.max_environ_bytes)) {
      inputs.process_environments.push_back(std::move(*environment));
    }
  }
  return inputs;
}

std::expected<std::vector<std::string>, std::string> agent_environment_for(
    const daemon::Session& session) {
  auto inputs = gather_environment_inputs(session);
  if (!inputs) {
    return std::unexpected(inputs.error());
  }
  return build_agent_environment(*inputs);
}

std::vector<std::string> current_session_display_environment(const std::string& session_id) {
  static constexpr std::string_view kNames[] = {"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY",
                                                "XDG_CURRENT_DESKTOP"};
  auto session = read_logind_session(session_id);
  if (!session || !*session) {
    return {};
  }
  std::vector<std::string> found;
  auto take = [&](std::string_view name, const std::string& entry) {
    const bool named =
        entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=';
    const bool have = std::ranges::any_of(found, [&](const std::string& f) {
      return f.size() > name.size() && f.starts_with(name) && f[name.size()] == '=';
    });
    if (named && !have) {
      found.push_back(entry);
    }
  };
  // The session's own processes first: they are the desktop as it is now.
  for (pid_t pid : session_process_ids(**session, 64)) {
    auto environment = read_process_environment(pid, (*session)->uid, 64 * std::size_t{1024});
    if (!environment) {
      continue;
    }
    for (std::string_view name : kNames) {
      for (const std::string& entry : *environment) {
        take(name, entry);
      }
    }
  }
  if (!(*session)->display.empty()) {
    take("DISPLAY", "DISPLAY=" + (*session)->display);
  }
  return found;
}

}  // namespace liaison::platform
