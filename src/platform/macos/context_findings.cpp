#include "platform/macos/context_findings.h"

#include <fmt/format.h>

#include "platform/macos/launchd_plist.h"

namespace liaison::platform::macos {
namespace {

using protocol::Finding;
using protocol::Json;

constexpr std::string_view kAllowHint =
    "System Settings → Notifications → Liaison → Allow Notifications";

std::string_view authorization_name(long status) {
  switch (static_cast<NotificationAuthorization>(status)) {
    case NotificationAuthorization::kNotDetermined:
      return "not-determined";
    case NotificationAuthorization::kDenied:
      return "denied";
    case NotificationAuthorization::kAuthorized:
      return "authorized";
    case NotificationAuthorization::kProvisional:
      return "provisional";
    case NotificationAuthorization::kEphemeral:
      return "ephemeral";
  }
  return "unknown";
}

std::string trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

Finding notifications_finding(const NotificationContext& context) {
  Json facts = {{"executable", context.executable_path},
                {"bundle_identifier", context.bundle_identifier},
                {"bundle_path", context.bundle_path}};
  if (context.bundle_identifier.empty()) {
    return Finding::fail(
        "notifications",
        fmt::format("the agent runs outside an app bundle ({}): UserNotifications works only "
                    "for the main executable of an app bundle",
                    context.executable_path),
        fmt::format("run the agent as {} (the launch-agent strategy does; docs/macos.md)",
                    kAgentExecutable),
        facts);
  }
  if (!context.authorization_status) {
    return Finding::warn(
        "notifications",
        fmt::format("{} did not get its notification settings in time", context.bundle_identifier),
        "run `liaison doctor` again; if it persists, look at `log show --last "
        "10m --predicate 'process == \"usernoted\"'`",
        facts);
  }
  const long status = *context.authorization_status;
  facts["authorization"] = authorization_name(status);
  switch (static_cast<NotificationAuthorization>(status)) {
    case NotificationAuthorization::kAuthorized:
    case NotificationAuthorization::kEphemeral:
      return Finding::ok("notifications",
                         fmt::format("{} may show notifications", context.bundle_identifier),
                         facts);
    case NotificationAuthorization::kProvisional:
      return Finding::ok(
          "notifications",
          fmt::format("{} may show notifications quietly (provisional: Notification Centre only, "
                      "no banners)",
                      context.bundle_identifier),
          facts);
    case NotificationAuthorization::kDenied:
      return Finding::fail(
          "notifications",
          fmt::format("the user turned notifications off for {}", context.bundle_identifier),
          std::string(kAllowHint), facts);
    case NotificationAuthorization::kNotDetermined:
      return Finding::warn(
          "notifications",
          fmt::format("the user has not been asked yet whether {} may show notifications; the "
                      "first notification asks",
                      context.bundle_identifier),
          fmt::format("send a test notification and click Allow, or {}", kAllowHint), facts);
  }
  return Finding::warn("notifications",
                       fmt::format("unknown notification authorization {} for {}", status,
                                   context.bundle_identifier),
                       std::string(kAllowHint), facts);
}

Finding user_manager_finding(
    uid_t uid, const std::string& strategy, LaunchctlOutcome domain, const std::string& domain_said,
    const std::expected<std::optional<LaunchdServiceState>, LaunchctlError>* job) {
  const std::string gui = gui_domain(uid);
  Json facts = {{"domain", gui},
                {"strategy", strategy},
                {"domain_exists", domain == LaunchctlOutcome::kDone}};
  if (domain == LaunchctlOutcome::kNoGuiDomain || domain == LaunchctlOutcome::kNotLoaded) {
    return Finding::fail(
        "user-manager",
        fmt::format("launchd has no {} domain: uid {} has no GUI login now ({})", gui, uid,
                    domain_said),
        "agents run only in GUI logins: log in at the login window (fast user switching is fine); "
        "an SSH login has no gui/ domain",
        facts);
  }
  if (domain != LaunchctlOutcome::kDone) {
    return Finding::fail("user-manager",
                         fmt::format("launchctl print {} failed: {}", gui, domain_said),
                         fmt::format("run `sudo launchctl print {}` to see why", gui), facts);
  }
  if (strategy == "exec") {
    return Finding::warn(
        "user-manager",
        fmt::format("{} exists, but the exec strategy does not use it: its agents stay in the "
                    "system bootstrap namespace, where notifications and the Secure Enclave fail",
                    gui),
        "set [agent] launch = \"launch-agent\" in /etc/liaison/liaison.toml (docs/macos.md)",
        facts);
  }
  if (strategy != "launch-agent" || job == nullptr) {
    return Finding::ok("user-manager",
                       fmt::format("{} exists: `launchctl asuser {}` can start the agent in the "
                                   "user's GUI login",
                                   gui, uid),
                       facts);
  }
  const std::string service = gui_service(uid, kAgentLabel);
  facts["service"] = service;
  if (!job->has_value()) {
    return Finding::fail("user-manager",
                         fmt::format("cannot read {}: {}", service, job->error().message),
                         fmt::format("run `sudo launchctl print {}` to see why", service), facts);
  }
  const std::optional<LaunchdServiceState>& state = **job;
  if (!state) {
    facts["loaded"] = false;
    return Finding::fail(
        "user-manager", fmt::format("{} is not loaded in {}", kAgentLabel, gui),
        fmt::format("sudo liaison launch-agent install (or sudo launchctl bootstrap {} {})", gui,
                    launch_agent_plist_path()),
        facts);
  }
  facts["loaded"] = true;
  facts["state"] = state->state;
  if (state->pid) {
    facts["pid"] = *state->pid;
  }
  if (state->last_exit_code) {
    facts["last_exit_code"] = *state->last_exit_code;
  }
  if (state->running() && state->pid) {
    return Finding::ok("user-manager",
                       fmt::format("{} runs in {} (pid {})", kAgentLabel, gui, *state->pid), facts);
  }
  return Finding::warn(
      "user-manager",
      fmt::format("{} is loaded in {} but {}{}", kAgentLabel, gui, state->state,
                  state->last_exit_code
                      ? fmt::format(" (last exit code {})", *state->last_exit_code)
                      : std::string()),
      fmt::format("sudo launchctl kickstart -k {}; then log show --last 10m --predicate "
                  "'subsystem == \"dev.liaison\"'",
                  service),
      facts);
}

Finding setuid_only_child_finding(uid_t uid,
                                  const std::expected<CommandResult, std::string>& managername) {
  Json facts = {{"uid", uid}};
  if (!managername) {
    return Finding::info(
        "setuid-only-child",
        fmt::format("could not start a setuid-only child as uid {}: {}", uid, managername.error()),
        facts);
  }
  const std::string name = trimmed(managername->standard_output);
  facts["managername"] = name;
  facts["exit_code"] = managername->exit_code;
  if (managername->exit_code != 0 || name.empty()) {
    return Finding::info(
        "setuid-only-child",
        fmt::format("`launchctl managername` in a setuid-only child of uid {} failed (exit {}{})",
                    uid, managername->exit_code,
                    name.empty() ? std::string() : fmt::format(", said \"{}\"", name)),
        facts);
  }
  if (name == "Aqua") {
    return Finding::info(
        "setuid-only-child",
        fmt::format("a child that only setuid()s to uid {} reports launchd session \"Aqua\": it "
                    "inherited a GUI login's bootstrap namespace (is the daemon itself running "
                    "inside a GUI login rather than as a LaunchDaemon?)",
                    uid),
        facts);
  }
  return Finding::info(
      "setuid-only-child",
      fmt::format("a child that only setuid()s to uid {} is in launchd session \"{}\", not the "
                  "user's \"Aqua\" GUI login: it cannot reach the notification service or the "
                  "user's keychain, which is why agents are started through launchd",
                  uid, name),
      facts);
}

}  // namespace liaison::platform::macos
