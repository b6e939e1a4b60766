#include "platform/macos/launchd_launch_agent.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace liaison::platform::macos {
namespace {

// Outcomes after which the user's domain is as asked, or has no GUI login to act on.
bool settled(LaunchctlOutcome outcome) {
  return outcome == LaunchctlOutcome::kDone || outcome == LaunchctlOutcome::kAlreadyLoaded ||
         outcome == LaunchctlOutcome::kNotLoaded || outcome == LaunchctlOutcome::kNoGuiDomain;
}

std::expected<void, std::string> checked(const std::expected<LaunchctlOutcome, std::string>& result,
                                         std::string_view what) {
  if (!result) {
    return std::unexpected(result.error());
  }
  if (!settled(*result)) {
    return std::unexpected(fmt::format("launchctl {}: {}", what, outcome_name(*result)));
  }
  return {};
}

}  // namespace

LaunchdLaunchAgent::LaunchdLaunchAgent(Launchctl& launchctl, std::string directory,
                                       std::optional<FileOwner> owner, LaunchAgentSpec spec)
    : launchctl_(launchctl),
      directory_(std::move(directory)),
      owner_(owner),
      spec_(std::move(spec)) {}

std::string LaunchdLaunchAgent::file_name() const { return spec_.label + ".plist"; }

std::expected<std::optional<std::string>, std::string> LaunchdLaunchAgent::read_plist() const {
  auto directory = open_directory(directory_);
  if (!directory) {
    if (directory.error().error_number == ENOENT) {
      return std::nullopt;
    }
    return std::unexpected(directory.error().message());
  }
  auto content = read_file_beneath(directory->get(), file_name());
  if (!content) {
    return std::unexpected(content.error().message());
  }
  return *content;
}

std::expected<daemon::LaunchAgentInstallation, std::string> LaunchdLaunchAgent::installation()
    const {
  auto content = read_plist();
  if (!content) {
    return std::unexpected(content.error());
  }
  return daemon::LaunchAgentInstallation{.all = content->has_value()};
}

std::expected<daemon::InstallationChange, std::string> LaunchdLaunchAgent::write(
    const daemon::LaunchAgentInstallation& installation) {
  if (!installation.all && !installation.users.empty()) {
    return std::unexpected(
        std::string("on macOS the LaunchAgent is installed for all users (--all): launchd loads a "
                    "/Library/LaunchAgents plist at every user's login"));
  }
  auto current = read_plist();
  if (!current) {
    return std::unexpected(current.error());
  }
  auto directory = open_directory(directory_, /*create=*/installation.all);
  if (!directory) {
    return std::unexpected(directory.error().message());
  }

  if (!installation.all) {
    auto removed = remove_beneath(directory->get(), file_name());
    if (!removed) {
      return std::unexpected(removed.error().message());
    }
    return daemon::InstallationChange{.files = *removed, .command = false};
  }
  const std::string wanted = launch_agent_plist(spec_);
  if (*current == wanted) {
    return daemon::InstallationChange{};
  }
  // launchd refuses plists that are group- or world-writable or not root-owned.
  auto written = write_file_beneath(directory->get(), file_name(), wanted, 0644, owner_);
  if (!written) {
    return std::unexpected(written.error().message());
  }
  return daemon::InstallationChange{.files = true, .command = current->has_value()};
}

std::expected<void, std::string> LaunchdLaunchAgent::reload(uid_t uid) {
  auto installed = installation();
  if (!installed) {
    return std::unexpected(installed.error());
  }
  if (!installed->all) {
    return checked(launchctl_.bootout(uid, spec_.label), "bootout");
  }
  return checked(launchctl_.bootstrap(uid, fmt::format("{}/{}", directory_, file_name())),
                 "bootstrap");
}

std::expected<void, std::string> LaunchdLaunchAgent::restart_if_running(uid_t uid) {
  auto state = launchctl_.print(uid, spec_.label);
  if (!state) {
    // No GUI login: nothing runs there to restart.
    if (state.error().outcome == LaunchctlOutcome::kNoGuiDomain) {
      return {};
    }
    return std::unexpected(state.error().message);
  }
  const std::optional<LaunchdServiceState>& job = *state;
  if (!job || !job->running()) {
    return {};
  }
  return checked(launchctl_.kickstart_restart(uid, spec_.label), "kickstart");
}

std::expected<void, std::string> LaunchdLaunchAgent::stop(uid_t uid) {
  return checked(launchctl_.bootout(uid, spec_.label), "bootout");
}

daemon::UserUnitState LaunchdLaunchAgent::unit_state(uid_t uid) {
  daemon::UserUnitState unit;
  auto state = launchctl_.print(uid, spec_.label);
  if (!state) {
    if (state.error().outcome != LaunchctlOutcome::kNoGuiDomain) {
      unit.error = state.error().message;
    }
    return unit;  // manager_running stays false: no gui/<uid> domain
  }
  unit.manager_running = true;
  const std::optional<LaunchdServiceState>& job = *state;
  if (!job) {
    unit.load_state = "not-found";
    unit.active_state = "inactive";
    return unit;
  }
  unit.load_state = "loaded";
  unit.active_state = job->running() ? "active" : "inactive";
  unit.main_pid = job->pid.value_or(0);
  return unit;
}

std::string LaunchdLaunchAgent::unit_name() const {
  return fmt::format("{}/{}", directory_, file_name());
}

std::string LaunchdLaunchAgent::command() const {
  return fmt::format("{}", fmt::join(spec_.program_arguments, " "));
}

}  // namespace liaison::platform::macos
