#include "platform/macos/launchctl.h"

#include <fmt/format.h>

#include <charconv>
#include <regex>

namespace liaison::platform::macos {
namespace {

constexpr int kNoSuchProcess = 3;       // ESRCH
constexpr int kInputOutputError = 5;    // EIO: launchd's catch-all
constexpr int kAlreadyInProgress = 37;  // EALREADY
constexpr int kServiceNotFound = 113;   // launchd's "Could not find service"
constexpr int kServiceDisabled = 119;
constexpr int kDomainUnsupported = 125;  // no GUI login, or LimitLoadToSessionType mismatch

bool mentions_missing_domain(const CommandResult& result) {
  return result.standard_error.find("Could not find domain") != std::string::npos;
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// Common answers every subcommand can give before its own.
std::optional<LaunchctlOutcome> interpret_common(const CommandResult& result) {
  if (result.exit_code == 0) return LaunchctlOutcome::kDone;
  if (mentions_missing_domain(result)) return LaunchctlOutcome::kNoGuiDomain;
  switch (launchctl_error_number(result)) {
    case kServiceDisabled:
      return LaunchctlOutcome::kDisabled;
    case kDomainUnsupported:
      return LaunchctlOutcome::kNoGuiDomain;
    default:
      return std::nullopt;
  }
}

std::string joined_output(const CommandResult& result) {
  std::string text = std::string(trim(result.standard_error));
  if (text.empty()) text = std::string(trim(result.standard_output));
  for (auto& character : text) {
    if (character == '\n') character = ' ';
  }
  return text;
}

// std::expected::transform, which g++ 12's library lacks.
std::expected<LaunchctlOutcome, std::string> interpreted(
    const std::expected<CommandResult, std::string>& result,
    LaunchctlOutcome (*interpret)(const CommandResult&)) {
  if (!result) return std::unexpected(result.error());
  return interpret(*result);
}

}  // namespace

std::string gui_domain(uid_t uid) { return fmt::format("gui/{}", uid); }

std::string gui_service(uid_t uid, std::string_view label) {
  return fmt::format("gui/{}/{}", uid, label);
}

std::vector<std::string> bootstrap_arguments(uid_t uid, std::string_view plist_path) {
  return {"bootstrap", gui_domain(uid), std::string(plist_path)};
}

std::vector<std::string> bootout_arguments(uid_t uid, std::string_view label) {
  return {"bootout", gui_service(uid, label)};
}

std::vector<std::string> kickstart_restart_arguments(uid_t uid, std::string_view label) {
  return {"kickstart", "-k", gui_service(uid, label)};
}

std::vector<std::string> print_arguments(uid_t uid, std::string_view label) {
  return {"print", gui_service(uid, label)};
}

std::vector<std::string> print_domain_arguments(uid_t uid) { return {"print", gui_domain(uid)}; }

std::vector<std::string> asuser_arguments(uid_t uid, const std::vector<std::string>& command) {
  std::vector<std::string> arguments{"asuser", std::to_string(uid)};
  arguments.insert(arguments.end(), command.begin(), command.end());
  return arguments;
}

std::string_view outcome_name(LaunchctlOutcome outcome) {
  switch (outcome) {
    case LaunchctlOutcome::kDone:
      return "done";
    case LaunchctlOutcome::kAlreadyLoaded:
      return "already-loaded";
    case LaunchctlOutcome::kNotLoaded:
      return "not-loaded";
    case LaunchctlOutcome::kRetryLater:
      return "retry-later";
    case LaunchctlOutcome::kDisabled:
      return "disabled";
    case LaunchctlOutcome::kNoGuiDomain:
      return "no-gui-domain";
    case LaunchctlOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

int launchctl_error_number(const CommandResult& result) {
  // "Bootstrap failed: 5: Input/output error", "Boot-out failed: 3: No such process",
  // "Could not enable service: 125: ...".
  static const std::regex kReported(R"((?:failed|service): (\d+): )");
  std::smatch match;
  if (std::regex_search(result.standard_error, match, kReported)) {
    if (auto number = parse_int(match[1].str())) return *number;
  }
  return result.exit_code;
}

LaunchctlOutcome interpret_bootstrap(const CommandResult& result) {
  if (auto common = interpret_common(result)) return *common;
  switch (launchctl_error_number(result)) {
    case kAlreadyInProgress:
      return LaunchctlOutcome::kAlreadyLoaded;
    case kInputOutputError:
      return LaunchctlOutcome::kRetryLater;
    default:
      return LaunchctlOutcome::kFailed;
  }
}

LaunchctlOutcome interpret_bootout(const CommandResult& result) {
  if (auto common = interpret_common(result)) return *common;
  switch (launchctl_error_number(result)) {
    case kNoSuchProcess:
    case kServiceNotFound:
      return LaunchctlOutcome::kNotLoaded;
    default:
      return LaunchctlOutcome::kFailed;
  }
}

LaunchctlOutcome interpret_kickstart(const CommandResult& result) {
  if (auto common = interpret_common(result)) return *common;
  if (launchctl_error_number(result) == kServiceNotFound) return LaunchctlOutcome::kNotLoaded;
  return LaunchctlOutcome::kFailed;
}

LaunchctlOutcome interpret_print(const CommandResult& result) {
  return interpret_kickstart(result);
}

LaunchctlOutcome interpret_print_domain(const CommandResult& result) {
  if (auto common = interpret_common(result)) return *common;
  switch (launchctl_error_number(result)) {
    case 112:  // "unavailable" for a gui/ target without a GUI login (macos-facts.md §2)
    case kServiceNotFound:
      return LaunchctlOutcome::kNoGuiDomain;
    default:
      return LaunchctlOutcome::kFailed;
  }
}

std::string describe(LaunchctlOutcome outcome, const CommandResult& result) {
  const std::string said = joined_output(result);
  switch (outcome) {
    case LaunchctlOutcome::kDone:
      return "done";
    case LaunchctlOutcome::kAlreadyLoaded:
      return fmt::format("already loaded ({})", said);
    case LaunchctlOutcome::kNotLoaded:
      return fmt::format("not loaded ({})", said);
    case LaunchctlOutcome::kRetryLater:
      return fmt::format(
          "launchd answered EIO ({}); usually the previous instance is still stopping after "
          "bootout, so retry in a few seconds; if it persists, look for a `launchctl disable` "
          "override (launchctl print-disabled) and the plist's ownership (root:wheel 0644)",
          said);
    case LaunchctlOutcome::kDisabled:
      return fmt::format("the service is disabled ({}); run `launchctl enable` for it", said);
    case LaunchctlOutcome::kNoGuiDomain:
      return fmt::format("the user has no GUI login session now ({})", said);
    case LaunchctlOutcome::kFailed:
      return fmt::format("launchctl failed with {} ({})", launchctl_error_number(result), said);
  }
  return said;
}

std::expected<LaunchdServiceState, std::string> parse_launchctl_print(std::string_view text) {
  LaunchdServiceState state;
  bool saw_state = false;
  int depth = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with("{")) {
      ++depth;
      continue;
    }
    if (line == "}") {
      --depth;
      continue;
    }
    // Only the service's own fields, one level in; nested blocks repeat names like "state".
    const auto separator = line.find(" = ");
    if (depth != 1 || separator == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, separator);
    const std::string_view value = line.substr(separator + 3);
    if (key == "state") {
      state.state = std::string(value);
      saw_state = true;
    } else if (key == "pid") {
      if (auto pid = parse_int(value)) state.pid = *pid;
    } else if (key == "last exit code") {
      if (auto code = parse_int(value)) state.last_exit_code = *code;
    } else if (key == "runs") {
      state.runs = parse_int(value);
    } else if (key == "path") {
      state.path = std::string(value);
    } else if (key == "program") {
      state.program = std::string(value);
    }
  }
  if (!saw_state) return std::unexpected(std::string("launchctl print output has no state"));
  return state;
}

std::expected<CommandResult, std::string> Launchctl::run(
    const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{path_};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return runner_.run(argv);
}

std::expected<LaunchctlOutcome, std::string> Launchctl::bootstrap(uid_t uid,
                                                                  std::string_view plist_path) {
  return interpreted(run(bootstrap_arguments(uid, plist_path)), interpret_bootstrap);
}

std::expected<LaunchctlOutcome, std::string> Launchctl::bootout(uid_t uid, std::string_view label) {
  return interpreted(run(bootout_arguments(uid, label)), interpret_bootout);
}

std::expected<LaunchctlOutcome, std::string> Launchctl::kickstart_restart(uid_t uid,
                                                                          std::string_view label) {
  return interpreted(run(kickstart_restart_arguments(uid, label)), interpret_kickstart);
}

std::expected<std::optional<LaunchdServiceState>, LaunchctlError> Launchctl::print(
    uid_t uid, std::string_view label) {
  auto result = run(print_arguments(uid, label));
  if (!result) return std::unexpected(LaunchctlError{LaunchctlOutcome::kFailed, result.error()});
  const auto outcome = interpret_print(*result);
  if (outcome == LaunchctlOutcome::kNotLoaded) return std::nullopt;
  if (outcome != LaunchctlOutcome::kDone) {
    return std::unexpected(LaunchctlError{outcome, describe(outcome, *result)});
  }
  auto state = parse_launchctl_print(result->standard_output);
  if (!state) return std::unexpected(LaunchctlError{LaunchctlOutcome::kFailed, state.error()});
  return std::optional<LaunchdServiceState>(std::move(*state));
}

std::expected<std::pair<LaunchctlOutcome, std::string>, std::string> Launchctl::print_domain(
    uid_t uid) {
  auto result = run(print_domain_arguments(uid));
  if (!result) return std::unexpected(result.error());
  const auto outcome = interpret_print_domain(*result);
  return std::pair{outcome, describe(outcome, *result)};
}

}  // namespace liaison::platform::macos
