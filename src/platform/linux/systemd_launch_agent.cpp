#include "platform/linux/systemd_launch_agent.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <sstream>

#include "common/safe_files.h"
#include "platform/linux/user_manager.h"

namespace liaison::platform {
namespace {

constexpr std::string_view kMarker = "# liaison-installed-for:";

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string error_text(const SystemError& error) { return error.message(); }

}  // namespace

std::string quote_for_unit(std::string_view word) {
  std::string escaped;
  bool needs_quotes = word.empty();
  for (char c : word) {
    switch (c) {
      case '%':
        escaped += "%%";  // specifiers
        break;
      case '$':
        escaped += "$$";  // environment variable expansion
        break;
      case '\\':
      case '"':
        escaped += '\\';
        escaped += c;
        needs_quotes = true;
        break;
      case ' ':
      case '\t':
      case '\'':
      case ';':
        escaped += c;
        needs_quotes = true;
        break;
      default:
        escaped += c;
    }
  }
  return needs_quotes ? "\"" + escaped + "\"" : escaped;
}

std::string render_drop_in(const daemon::LaunchAgentInstallation& installation,
                           const std::vector<std::string>& agent_command,
                           const std::string& agent_socket_path) {
  std::string users;
  for (uid_t uid : installation.users) {
    users += fmt::format(" {}", uid);
  }
  std::string text =
      "# Written by `liaison launch-agent install`; `liaison launch-agent uninstall` removes it.\n"
      "# Edits here are overwritten: change the installation with those commands.\n";
  text += fmt::format("{} {}\n", kMarker, installation.all ? std::string("all") : users.substr(1));
  if (!installation.all) {
    // Triggering conditions: the unit runs for a user whose manager matches any of them.
    text += "[Unit]\n";
    for (uid_t uid : installation.users) {
      text += fmt::format("ConditionUser=|{}\n", uid);
    }
  }
  std::string command;
  for (const std::string& word : agent_command) {
    command += " " + quote_for_unit(word);
  }
  text += "\n[Service]\nExecStart=\nExecStart=" + command.substr(1) + "\n";
  text += "Environment=" + quote_for_unit("LIAISON_AGENT_SOCKET=" + agent_socket_path) + "\n";
  return text;
}

std::optional<daemon::LaunchAgentInstallation> parse_drop_in(std::string_view text) {
  for (std::string_view line : lines_of(text)) {
    if (!line.starts_with(kMarker)) {
      continue;
    }
    std::string_view value = line.substr(kMarker.size());
    daemon::LaunchAgentInstallation installation;
    std::istringstream words{std::string(value)};
    std::string word;
    while (words >> word) {
      if (word == "all") {
        installation.all = true;
        continue;
      }
      uid_t uid = 0;
      auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), uid);
      if (error != std::errc() || end != word.data() + word.size()) {
        return std::nullopt;
      }
      installation.users.insert(uid);
    }
    if (installation.all) {
      installation.users.clear();
    }
    if (installation.empty()) {
      return std::nullopt;
    }
    return installation;
  }
  return std::nullopt;
}

std::string service_section(std::string_view drop_in) {
  const size_t start = drop_in.find("[Service]");
  return start == std::string_view::npos ? std::string() : std::string(drop_in.substr(start));
}

SystemdLaunchAgent::SystemdLaunchAgent(std::vector<std::string> agent_command,
                                       std::string agent_socket_path, LaunchAgentPaths paths)
    : agent_command_(std::move(agent_command)),
      agent_socket_path_(std::move(agent_socket_path)),
      paths_(std::move(paths)) {}

std::string SystemdLaunchAgent::unit_name() const { return kLaunchAgentUnit; }

std::string SystemdLaunchAgent::command() const {
  std::string command;
  for (const std::string& word : agent_command_) {
    command += (command.empty() ? "" : " ") + word;
  }
  return command;
}

std::expected<std::string, std::string> SystemdLaunchAgent::packaged_unit() const {
  for (const std::string& directory : paths_.unit_dirs) {
    const std::string path = fmt::format("{}/{}", directory, kLaunchAgentUnit);
    struct stat status {};
    if (::lstat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode)) {
      return path;
    }
  }
  std::string searched;
  for (const std::string& directory : paths_.unit_dirs) {
    searched += (searched.empty() ? "" : ", ") + directory;
  }
  return std::unexpected(
      fmt::format("{} is not installed (looked in {}; `make install` puts it "
                  "in /usr/lib/systemd/user)",
                  kLaunchAgentUnit, searched));
}

std::expected<daemon::LaunchAgentInstallation, std::string> SystemdLaunchAgent::installation()
    const {
  auto config = open_directory(paths_.config_dir);
  if (!config) {
    if (config.error().error_number == ENOENT) {
      return daemon::LaunchAgentInstallation{};
    }
    return std::unexpected(error_text(config.error()));
  }
  auto text = read_file_beneath(config->get(), kLaunchAgentDropIn, 64 * std::size_t{1024});
  if (!text) {
    return std::unexpected(error_text(text.error()));
  }
  const auto& contents = *text;
  if (!contents) {
    return daemon::LaunchAgentInstallation{};
  }
  return parse_drop_in(*contents).value_or(daemon::LaunchAgentInstallation{});
}

std::expected<daemon::InstallationChange, std::string> SystemdLaunchAgent::write(
    const daemon::LaunchAgentInstallation& installation) {
  auto config = open_directory(paths_.config_dir, true, 0755);
  if (!config) {
    return std::unexpected(error_text(config.error()));
  }
  const int dir = config->get();
  auto old_text = read_file_beneath(dir, kLaunchAgentDropIn, 64 * std::size_t{1024});
  if (!old_text) {
    return std::unexpected(error_text(old_text.error()));
  }
  const std::string old_drop_in = old_text->value_or("");
  auto old_link = read_symlink_beneath(dir, kLaunchAgentWants);
  if (!old_link) {
    return std::unexpected(error_text(old_link.error()));
  }

  if (installation.empty()) {
    daemon::InstallationChange change{.files = !old_drop_in.empty() || old_link->has_value()};
    for (const char* path : {kLaunchAgentDropIn, kLaunchAgentWants}) {
      if (auto removed = remove_beneath(dir, path); !removed) {
        return std::unexpected(error_text(removed.error()));
      }
    }
    for (const char* directory : {"liaison-agent.service.d", "graphical-session.target.wants"}) {
      (void)remove_empty_directory_beneath(dir, directory);
    }
    return change;
  }

  auto unit = packaged_unit();
  if (!unit) {
    return std::unexpected(unit.error());
  }
  const std::string drop_in = render_drop_in(installation, agent_command_, agent_socket_path_);
  daemon::InstallationChange change;
  if (drop_in != old_drop_in) {
    if (auto written = write_file_beneath(dir, kLaunchAgentDropIn, drop_in, 0644); !written) {
      return std::unexpected(error_text(written.error()));
    }
    change.files = true;
    change.command =
        !old_drop_in.empty() && service_section(drop_in) != service_section(old_drop_in);
  }
  if (old_link->value_or("") != *unit) {
    if (auto linked = symlink_beneath(dir, kLaunchAgentWants, *unit); !linked) {
      return std::unexpected(error_text(linked.error()));
    }
    change.files = true;
  }
  return change;
}

namespace {

// Runs `action` against the manager of `uid`; a manager that is not running is no error (it
// reads the files when it starts).
template <typename Action>
std::expected<void, std::string> with_running_manager(uid_t uid, Action action) {
  if (::access(UserManager::socket_path_of(uid).c_str(), F_OK) != 0) {
    return {};
  }
  auto manager = UserManager::connect(uid);
  if (!manager) {
    return std::unexpected(manager.error());
  }
  return action(*manager);
}

}  // namespace

std::expected<void, std::string> SystemdLaunchAgent::reload(uid_t uid) {
  return with_running_manager(uid, [](UserManager& manager) { return manager.reload(); });
}

std::expected<void, std::string> SystemdLaunchAgent::restart_if_running(uid_t uid) {
  return with_running_manager(uid, [](UserManager& manager) -> std::expected<void, std::string> {
    auto status = manager.unit_status(kLaunchAgentUnit);
    if (!status) {
      return std::unexpected(status.error());
    }
    if (!status->running()) {
      return {};
    }
    return manager.restart_unit(kLaunchAgentUnit);
  });
}

std::expected<void, std::string> SystemdLaunchAgent::stop(uid_t uid) {
  return with_running_manager(
      uid, [](UserManager& manager) { return manager.stop_unit(kLaunchAgentUnit); });
}

daemon::UserUnitState SystemdLaunchAgent::unit_state(uid_t uid) {
  daemon::UserUnitState state;
  if (::access(UserManager::socket_path_of(uid).c_str(), F_OK) != 0) {
    return state;
  }
  auto manager = UserManager::connect(uid);
  if (!manager) {
    state.error = manager.error();
    return state;
  }
  state.manager_running = true;
  auto status = manager->unit_status(kLaunchAgentUnit);
  if (!status) {
    state.error = status.error();
    return state;
  }
  state.load_state = status->load_state;
  state.active_state = status->active_state;
  state.main_pid = status->main_pid;
  return state;
}

}  // namespace liaison::platform
