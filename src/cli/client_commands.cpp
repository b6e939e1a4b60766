// The commands that talk to a running daemon: sessions, notify, version.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/output.h"

namespace liaison::cli {
namespace {

using protocol::Json;
using namespace std::chrono_literals;

Json notify_params(const NotifyFlags& notify) {
  Json params = {{"title", notify.title}};
  if (!notify.users.empty()) {
    params["user"] = notify.users;
  }
  if (!notify.sessions.empty()) {
    params["session"] = notify.sessions;
  }
  if (notify.all) {
    params["all"] = true;
  }
  if (notify.body) {
    params["body"] = *notify.body;
  }
  if (notify.action_url) {
    params["action_url"] = *notify.action_url;
  }
  if (!notify.actions.empty()) {
    params["action"] = notify.actions;
  }
  if (notify.urgency) {
    params["urgency"] = *notify.urgency;
  }
  if (notify.icon) {
    params["icon"] = *notify.icon;
  }
  if (notify.id) {
    params["id"] = *notify.id;
  }
  if (notify.wait_action) {
    params["wait_action"] = *notify.wait_action;
  }
  return params;
}

}  // namespace

int run_sessions(const ClientFlags& flags) {
  auto sessions = call_daemon(flags.runtime_dir, "sessions.list", Json::object(), 10s);
  if (!sessions) {
    return sessions.error();
  }
  if (flags.json) {
    fmt::print("{}\n", sessions->dump(2));
  } else {
    fmt::print("{}", format_sessions(*sessions));
  }
  return kExitOk;
}

int run_notify(const ClientFlags& flags, const NotifyFlags& notify) {
  const auto timeout = std::chrono::seconds(notify.wait_action.value_or(0)) + 30s;
  auto outcome = call_daemon(flags.runtime_dir, "notify", notify_params(notify), timeout);
  if (!outcome) {
    return outcome.error();
  }
  if (flags.json) {
    fmt::print("{}\n", outcome->dump(2));
  } else {
    fmt::print("{}", format_notify_results(*outcome));
  }
  int status = kExitOk;
  for (const Json& result : outcome->at("results")) {
    if (result.value("delivered", false)) {
      continue;
    }
    status = kExitFailed;
    // Named on stderr too, so a script that only keeps stderr still learns who was missed.
    if (flags.json) {
      print_error(fmt::format("failed for {}: {}", result.value("user", ""),
                              result.at("error").value("message", "")));
    }
  }
  return status;
}

int run_version(const ClientFlags& flags) {
  fmt::print("liaison {}\n", LIAISON_VERSION);
  auto client = ControlClient::connect(runtime_dir_from(flags.runtime_dir) + "/control.sock");
  if (!client) {
    return kExitOk;  // the CLI's own version is the answer; the daemon's is a bonus
  }
  if (auto daemon = client->call("version", Json::object(), 5s)) {
    fmt::print("daemon {} (launch strategy {})\n", daemon->value("version", "?"),
               daemon->value("launch", "?"));
  }
  return kExitOk;
}

}  // namespace liaison::cli
