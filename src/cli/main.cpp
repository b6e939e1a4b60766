// liaison: one binary for the daemon, the agent and the command line (DESIGN.md, Command line).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/modules.h"
#include "cli/unknown_command.h"
#include "common/default_paths.h"

namespace liaison::cli {

void add_client_flags(CLI::App& command, ClientFlags& flags, bool with_json) {
  command.add_option("--runtime-dir", flags.runtime_dir,
                     fmt::format("where control.sock lives (default $LIAISON_RUNTIME_DIR or {})",
                                 kDefaultRuntimeDir));
  if (with_json) {
    command.add_flag("--json", flags.json, "print stable JSON for scripts");
  }
}

namespace {

void add_notify_flags(CLI::App& notify, NotifyFlags& flags) {
  notify.add_option("--user", flags.users, "a user by name or uid: every session of theirs");
  notify.add_option("--session", flags.sessions, "a session by id");
  notify.add_flag("--all", flags.all, "every eligible session");
  notify.add_option("--title", flags.title, "the summary line")->required();
  notify.add_option("--body", flags.body, "the text under it (shown literally)");
  notify.add_option("--action-url", flags.action_url, "opened when the user clicks the body");
  notify.add_option("--action", flags.actions, "a button, as ID=LABEL");
  notify.add_option("--urgency", flags.urgency, "low, normal or critical")
      ->check(CLI::IsMember({"low", "normal", "critical"}));
  notify.add_option("--icon", flags.icon, "an icon name or an absolute path");
  notify.add_option("--id", flags.id, "a dedup id: a re-sent id replaces the shown notification");
  notify
      .add_option("--wait-action", flags.wait_action,
                  "wait up to SECONDS for the user's click and report it")
      ->check(CLI::Range(1, 3600));
}

// `liaison key …`: the five key commands share --user/--label and the client flags.
struct KeyCommands {
  ClientFlags client;
  KeyFlags key;
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show_public = nullptr;
  CLI::App* sign = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* attest = nullptr;
};

void add_key_commands(CLI::App& app, KeyCommands& commands) {
  auto* key =
      app.add_subcommand("key", "hardware-bound keys: create, list, public, sign, delete, attest");
  key->require_subcommand(1);
  auto add = [&](const char* name, const char* help, bool needs_label, bool json) {
    CLI::App* command = key->add_subcommand(name, help);
    add_client_flags(*command, commands.client, json);
    auto* user =
        command->add_option("--user", commands.key.user, "the key's owner, by name or uid");
    if (needs_label) {
      user->required();
      command->add_option("--label", commands.key.label, "1-64 of [A-Za-z0-9._-]")->required();
    }
    return command;
  };
  commands.create = add("create", "make a key for a user", true, true);
  commands.create
      ->add_option("--backend", commands.key.backend, "auto, tpm, secure-enclave or software")
      ->check(CLI::IsMember({"auto", "tpm", "secure-enclave", "software"}));
  commands.create->add_flag("--replace", commands.key.replace,
                            "replace an existing key of that label");
  commands.list = add("list", "list keys (of one user with --user)", false, true);
  commands.show_public = add("public", "print a key's public half", true, false);
  commands.show_public->add_option("--format", commands.key.format, "pem, der or jwk")
      ->check(CLI::IsMember({"pem", "der", "jwk"}));
  commands.show_public->add_option("--out", commands.key.out, "write to FILE instead of stdout");
  commands.sign = add("sign", "sign a file or stdin (ECDSA P-256, SHA-256, DER)", true, false);
  commands.sign->add_option("--in", commands.key.in, "the input (default stdin)");
  commands.sign->add_option("--out", commands.key.out, "write the signature to FILE");
  commands.sign->add_flag("--digest", commands.key.digest, "the input is a 32-byte SHA-256 digest");
  commands.remove = add("delete", "delete a key", true, true);
  commands.attest =
      add("attest", "the TPM's proof, by the attestation key, that a key is in it", true, true);
  commands.attest
      ->add_option("--challenge", commands.key.challenge, "the verifier's challenge, base64")
      ->required();
  commands.attest->add_option("--format", commands.key.attest_format, "webauthn or tpm")
      ->check(CLI::IsMember({"webauthn", "tpm"}));
  commands.attest->add_option("--out", commands.key.out, "write to FILE instead of stdout");
}

int run_key_command(const KeyCommands& commands) {
  if (commands.create->parsed()) {
    return run_key_create(commands.client, commands.key);
  }
  if (commands.list->parsed()) {
    return run_key_list(commands.client, commands.key);
  }
  if (commands.show_public->parsed()) {
    return run_key_public(commands.client, commands.key);
  }
  if (commands.sign->parsed()) {
    return run_key_sign(commands.client, commands.key);
  }
  if (commands.remove->parsed()) {
    return run_key_delete(commands.client, commands.key);
  }
  if (commands.attest->parsed()) {
    return run_key_attest(commands.client, commands.key);
  }
  return kExitUsage;
}

int run(int argc, char** argv) {
  CLI::App app{"liaison: notifications and hardware-bound keys in every user's desktop session"};
  app.require_subcommand(1);

  DaemonFlags daemon_flags;
  auto* daemon = app.add_subcommand("daemon", "run the root daemon (under systemd)");
  daemon->add_option("--config", daemon_flags.config_path, "configuration file");
  daemon->add_option("--runtime-dir", daemon_flags.runtime_dir,
                     fmt::format("sockets (default {})", liaison::kDefaultRuntimeDir));
  daemon->add_option("--state-dir", daemon_flags.state_dir, "state (default /var/lib/liaison)");
  daemon->add_option("--log-level", daemon_flags.log_level, "debug, info, warning or error");

  auto* agent = app.add_subcommand("agent", "the per-session agent (started by the daemon)");

  ClientFlags sessions_flags;
  auto* sessions = app.add_subcommand("sessions", "list eligible sessions and their agents");
  add_client_flags(*sessions, sessions_flags, true);

  ClientFlags notify_client_flags;
  NotifyFlags notify_flags;
  auto* notify = app.add_subcommand("notify", "show a notification in users' sessions");
  add_client_flags(*notify, notify_client_flags, true);
  add_notify_flags(*notify, notify_flags);

  ClientFlags version_flags;
  auto* version = app.add_subcommand("version", "print the version of the CLI and the daemon");
  add_client_flags(*version, version_flags, false);

  ClientFlags doctor_client_flags;
  DoctorFlags doctor_flags;
  auto* doctor = app.add_subcommand(
      "doctor", "check the daemon, every session's agent, bus, notification server and keys");
  add_client_flags(*doctor, doctor_client_flags, true);
  doctor->add_option("--user", doctor_flags.user, "only this user's sessions, by name or uid");

  KeyCommands key_commands;
  add_key_commands(app, key_commands);

  LaunchAgentCommand launch_agent_command;
  add_launch_agent_command(app, launch_agent_command);

  AttestCommand attest_command;
  add_attest_command(app, attest_command);

  PresenceCommand presence_command;
  add_presence_command(app, presence_command);

  // Before CLI11 sees it: it would print the top-level help for `liaison presense --help`.
  if (auto unknown = unknown_command_error(app, std::span<const char* const>(argv + 1, argc - 1))) {
    fmt::print(stderr, "liaison: {}\n", *unknown);
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "liaison: {}\n", e.what());
    return kExitUsage;
  }

  if (daemon->parsed()) {
    auto module = load_daemon_module();
    if (!module) {
      fmt::print(stderr, "liaison: {}\n", module.error());
      return kExitFailed;
    }
    return (*module)->run_daemon(daemon_flags);
  }
  if (agent->parsed()) {
    auto module = load_agent_module();
    if (!module) {
      fmt::print(stderr, "liaison: {}\n", module.error());
      return kExitFailed;
    }
    return (*module)->run_agent();
  }
  if (sessions->parsed()) {
    return run_sessions(sessions_flags);
  }
  if (notify->parsed()) {
    if (notify_flags.users.empty() && notify_flags.sessions.empty() && !notify_flags.all) {
      fmt::print(stderr, "liaison: notify needs a target: --user, --session or --all\n");
      return kExitUsage;
    }
    return run_notify(notify_client_flags, notify_flags);
  }
  if (version->parsed()) {
    return run_version(version_flags);
  }
  if (doctor->parsed()) {
    return run_doctor(doctor_client_flags, doctor_flags);
  }
  if (app.got_subcommand("key")) {
    return run_key_command(key_commands);
  }
  if (app.got_subcommand("launch-agent")) {
    return run_launch_agent_command(launch_agent_command);
  }
  if (app.got_subcommand("attest")) {
    return run_attest_command(attest_command);
  }
  if (presence_command.app->parsed()) {
    return run_presence_command(presence_command);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace liaison::cli

int main(int argc, char** argv) {
  // No exception leaves main (std::terminate would abort without a word): say what it was, fail.
  try {
    return liaison::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "liaison: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "liaison: unexpected error\n");
  }
  return liaison::cli::kExitFailed;
}
