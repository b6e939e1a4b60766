// `liaison doctor [--user U] [--json]`: asks the daemon to examine itself and every session (its
// control method `doctor`), adds what only this side can see (the configuration file as it is
// now on disk, a daemon that does not answer), and prints every finding with its fix.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/output.h"
#include "common/config.h"
#include "protocol/finding.h"

namespace liaison::cli {
namespace {

using protocol::Finding;
using protocol::Json;
using namespace std::chrono_literals;

// The file as it is now: the daemon keeps what it read at start, so an edit that broke the file
// shows here before the next restart fails on it.
Finding config_finding(const std::string& path) {
  auto config = load_config(path, /*path_was_given=*/false);
  if (!config) {
    return Finding::fail("config", config.error(),
                         fmt::format("fix {}: the running daemon keeps the settings it started "
                                     "with, but would not start again with this file",
                                     path));
  }
  return Finding::ok(
      "config", fmt::format("{} is valid (launch {}, keys {}, TPM in the {})", path,
                            config->agent.launch, config->keys.backend, config->keys.tpm_context));
}

Finding unreachable_finding(const CallFailure& failure) {
  const bool refused = failure.error_number == EACCES || failure.error_number == EPERM;
  return Finding::fail("daemon", failure.message,
                       refused ? "run as root, or join group liaison: usermod -aG liaison USER "
                                 "(then log in again)"
                               : "systemctl start liaison; journalctl -u liaison says why it "
                                 "stopped");
}

void print_report(const Json& report, bool json) {
  if (json) {
    fmt::print("{}\n", report.dump(2));
  } else {
    fmt::print("{}", format_doctor(report, stdout_wants_colour()));
  }
}

}  // namespace

int run_doctor(const ClientFlags& flags, const DoctorFlags& doctor) {
  const Finding config = config_finding(std::string(kDefaultConfigPath));
  const std::string socket = runtime_dir_from(flags.runtime_dir) + "/control.sock";
  auto client = ControlClient::connect(socket);
  if (!client) {
    Json findings = {protocol::to_json(unreachable_finding(client.error())),
                     protocol::to_json(config)};
    print_report(
        {{"ok", false},
         {"daemon",
          {{"version", nullptr}, {"pid", nullptr}, {"strategy", nullptr}, {"findings", findings}}},
         {"sessions", Json::array()}},
        flags.json);
    return client.error().exit_status;
  }
  Json params = Json::object();
  if (doctor.user) {
    params["user"] = *doctor.user;
  }
  // Generous: each agent may take seconds when its notification server hangs.
  auto report = client->call("doctor", params, 120s);
  if (!report) {
    print_error(report.error().message);
    return report.error().exit_status;
  }
  Json& daemon_findings = (*report)["daemon"]["findings"];
  daemon_findings.insert(daemon_findings.begin() + (daemon_findings.empty() ? 0 : 1),
                         protocol::to_json(config));
  if (config.failed()) {
    (*report)["ok"] = false;
  }
  print_report(*report, flags.json);
  if (doctor.user && report->at("sessions").empty()) {
    if (!flags.json) {
      print_error(fmt::format("{} has no session", *doctor.user));
    }
    return kExitNoSession;
  }
  return report->value("ok", false) ? kExitOk : kExitFailed;
}

}  // namespace liaison::cli
