// `liaison presence --user U [--session ID] --reason TEXT [--timeout S] [--json]`: a thin client
// of presence.check (docs/protocol.md, issue 26). It waits as long as the user may take, and
// exits 0 only when they confirmed. Interrupting it closes the connection, and the daemon then
// withdraws the prompt.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/control_client.h"

namespace liaison::cli {
namespace {

using protocol::Json;
using namespace std::chrono_literals;

// What the daemon needs beyond the user's own timeout to say "timeout" itself.
constexpr auto kAnswerMargin = 30s;

std::string describe(const Json& answer) {
  std::string text = fmt::format("{}: {} in session {}", answer.value("result", "?"),
                                 answer.value("user", "?"), answer.value("session", "?"));
  if (auto detail = answer.find("detail"); detail != answer.end() && detail->is_string()) {
    text += fmt::format(" ({})", detail->get<std::string>());
  }
  return text;
}

}  // namespace

void add_presence_command(CLI::App& app, PresenceCommand& command) {
  auto* presence = app.add_subcommand(
      "presence", "ask the person at a user's session to prove it is them (polkit, Touch ID)");
  add_client_flags(*presence, command.client, true);
  presence->add_option("--user", command.user, "the user, by name or uid")->required();
  presence->add_option("--session", command.session,
                       "the session to ask in (default: the user's active graphical session)");
  presence->add_option("--reason", command.reason, "why, shown to the user (one line, plain text)")
      ->required();
  presence->add_option("--timeout", command.timeout, "seconds to wait for the user (1-600)")
      ->default_val(60)
      ->check(CLI::Range(1, 600));
  command.app = presence;
}

int run_presence_command(const PresenceCommand& command) {
  Json params = {{"user", command.user}, {"reason", command.reason}, {"timeout", command.timeout}};
  if (command.session) {
    params["session"] = *command.session;
  }
  auto answer = call_daemon(command.client.runtime_dir, "presence.check", params,
                            std::chrono::seconds(command.timeout) + kAnswerMargin);
  if (!answer) {
    return answer.error();
  }
  const bool confirmed = answer->value("result", "") == "confirmed";
  if (command.client.json) {
    fmt::print("{}\n", answer->dump(2));
  } else if (confirmed) {
    fmt::print("{}\n", describe(*answer));
  } else {
    fmt::print(stderr, "liaison: presence not confirmed: {}\n", describe(*answer));
  }
  return confirmed ? kExitOk : kExitFailed;
}

}  // namespace liaison::cli
