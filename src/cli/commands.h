// One function per `liaison <command>`; main.cpp only parses flags and calls these.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace liaison::cli {

struct DaemonFlags {
  std::string config_path;
  std::string runtime_dir;
  std::string state_dir = "/var/lib/liaison";
  std::string log_level;
};
int run_daemon(const DaemonFlags& flags);

int run_agent();

struct ClientFlags {
  std::string runtime_dir;
  bool json = false;
};
// --runtime-dir, and --json when the command prints JSON (main.cpp).
void add_client_flags(CLI::App& command, ClientFlags& flags, bool with_json);

int run_sessions(const ClientFlags& flags);

struct NotifyFlags {
  std::vector<std::string> users;
  std::vector<std::string> sessions;
  bool all = false;
  std::string title;
  std::optional<std::string> body;
  std::optional<std::string> action_url;
  std::vector<std::string> actions;
  std::optional<std::string> urgency;
  std::optional<std::string> icon;
  std::optional<std::string> id;
  std::optional<int> wait_action;
};
int run_notify(const ClientFlags& flags, const NotifyFlags& notify);

int run_version(const ClientFlags& flags);

struct DoctorFlags {
  std::optional<std::string> user;
};
int run_doctor(const ClientFlags& flags, const DoctorFlags& doctor);

struct KeyFlags {
  std::string user;
  std::string label;
  std::string backend;                     // create: empty means the config's [keys] backend
  bool replace = false;                    // create
  std::string format = "pem";              // public: pem, der, jwk
  std::string in;                          // sign: a file, or stdin when empty or "-"
  std::string out;                         // public, sign: a file, or stdout when empty or "-"
  bool digest = false;                     // sign: the input is a 32-byte SHA-256 digest
  std::string challenge;                   // attest: the verifier's challenge, base64
  std::string attest_format = "webauthn";  // attest: webauthn or tpm
};
int run_key_create(const ClientFlags& flags, const KeyFlags& key);
int run_key_list(const ClientFlags& flags, const KeyFlags& key);
int run_key_public(const ClientFlags& flags, const KeyFlags& key);
int run_key_sign(const ClientFlags& flags, const KeyFlags& key);
int run_key_delete(const ClientFlags& flags, const KeyFlags& key);
int run_key_attest(const ClientFlags& flags, const KeyFlags& key);

// `liaison launch-agent (install|uninstall|status) [--user U | --all]` (launch_agent_command.cpp).
struct LaunchAgentCommand {
  ClientFlags client;
  std::vector<std::string> users;
  bool all = false;
  CLI::App* install = nullptr;
  CLI::App* uninstall = nullptr;
  CLI::App* status = nullptr;
};
void add_launch_agent_command(CLI::App& app, LaunchAgentCommand& command);
int run_launch_agent_command(const LaunchAgentCommand& command);

// `liaison attest ek | enroll | activate --in FILE | install-cert --in FILE [--json]`
// (attest_command.cpp).
struct AttestCommand {
  ClientFlags client;
  std::string in;  // activate, install-cert: the input file, or stdin for "-"
  CLI::App* ek = nullptr;
  CLI::App* enroll = nullptr;
  CLI::App* activate = nullptr;
  CLI::App* install_cert = nullptr;
};
void add_attest_command(CLI::App& app, AttestCommand& command);
int run_attest_command(const AttestCommand& command);

// `liaison presence --user U [--session ID] --reason TEXT [--timeout S] [--json]`
// (presence_command.cpp).
struct PresenceCommand {
  ClientFlags client;
  std::string user;
  std::optional<std::string> session;
  std::string reason;
  int timeout = 60;
  CLI::App* app = nullptr;
};
void add_presence_command(CLI::App& app, PresenceCommand& command);
int run_presence_command(const PresenceCommand& command);

}  // namespace liaison::cli
