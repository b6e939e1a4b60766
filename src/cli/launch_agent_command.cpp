// `liaison launch-agent (install|uninstall|status) [--user U | --all] [--json]`: a thin client
// of the launch_agent.* control methods (docs/protocol.md).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/launch_agent_output.h"

namespace liaison::cli {
namespace {

using protocol::Json;
using namespace std::chrono_literals;

// Installing reloads every user's service manager and may restart agents: give it time.
constexpr auto kCallTimeout = 60s;

void print_error(const std::string& message) { fmt::print(stderr, "liaison: {}\n", message); }

int run(const LaunchAgentCommand& command, const std::string& action) {
  Json params = Json::object();
  if (!command.users.empty()) {
    params["user"] = command.users;
  }
  if (command.all) {
    params["all"] = true;
  }
  auto client =
      ControlClient::connect(runtime_dir_from(command.client.runtime_dir) + "/control.sock");
  if (!client) {
    print_error(client.error().message);
    return client.error().exit_status;
  }
  auto report = client->call("launch_agent." + action, params, kCallTimeout);
  if (!report) {
    print_error(report.error().message);
    return report.error().exit_status;
  }
  if (command.client.json) {
    fmt::print("{}\n", report->dump(2));
  } else {
    fmt::print("{}", format_launch_agent_report(*report));
  }
  int status = kExitOk;
  for (const Json& session : report->at("sessions")) {
    if (!session.contains("error")) {
      continue;
    }
    status = kExitFailed;
    print_error(fmt::format("failed for {} (session {}): {}", session.value("user", ""),
                            session.value("session", ""),
                            session.at("error").value("message", "")));
  }
  return status;
}

}  // namespace

void add_launch_agent_command(CLI::App& app, LaunchAgentCommand& command) {
  auto* launch_agent = app.add_subcommand(
      "launch-agent", "the launch-agent strategy's user unit: install, uninstall, status");
  launch_agent->require_subcommand(1);
  auto add = [&](const char* name, const char* help) {
    CLI::App* action = launch_agent->add_subcommand(name, help);
    add_client_flags(*action, command.client, /*with_json=*/true);
    auto* user = action->add_option("--user", command.users, "a user by name or uid (repeatable)");
    auto* all = action->add_flag("--all", command.all, "every user (the default)");
    user->excludes(all);
    return action;
  };
  command.install =
      add("install", "install (or update) the agent unit and start it in current sessions");
  command.uninstall = add("uninstall", "stop the agent unit and remove it");
  command.status = add("status", "report the unit and the agent per session");
}

int run_launch_agent_command(const LaunchAgentCommand& command) {
  if (command.install->parsed()) {
    return run(command, "install");
  }
  if (command.uninstall->parsed()) {
    return run(command, "uninstall");
  }
  if (command.status->parsed()) {
    return run(command, "status");
  }
  return kExitUsage;
}

}  // namespace liaison::cli
