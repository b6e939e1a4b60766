// The daemon and the agent, as the command line reaches them. On Linux they live in shared
// modules installed beside the binary in ../lib/liaison/, each loaded only by what needs it:
//   liaison-daemon.so      `liaison daemon`: everything (libsystemd, tss2, OpenSSL);
//   liaison-agent.so       `liaison agent`: notifications, the session (libsystemd);
//   liaison-agent-keys.so  loaded by the agent on its first key request (tss2, OpenSSL).
// So the client commands (notify, sessions, key, doctor, version, launch-agent) start without
// any of those libraries (issue 13: `liaison --help` cost 3.5 ms, most of it binding them), and
// an agent that never handles a key never maps them. The process stays /usr/bin/liaison, so the
// agent's peer check (/proc/<pid>/exe is the installed binary) and the units are as DESIGN.md
// has them. macOS links everything into the binary: it is one app bundle's executable, and
// launchd and TCC know it by that.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "cli/commands.h"

namespace liaison::cli {

// Every module's entry table starts with its liaison version, checked against the binary's, so
// a binary never runs a module of another release (a half-finished upgrade, a stale copy).
struct DaemonModule {
  const char* version;
  int (*run_daemon)(const DaemonFlags& flags);
};

struct AgentModule {
  const char* version;
  int (*run_agent)();
};

// Linux: dlopen()s the module (a few ms: its libraries and their relocations) and returns its
// entry table, or a message saying which file could not be loaded and why. Modules are found
// from /proc/self/exe, never from the environment or the library search path; the handle is
// never closed. macOS: the entry points linked into the binary; never fails.
std::expected<const DaemonModule*, std::string> load_daemon_module();
std::expected<const AgentModule*, std::string> load_agent_module();

// The path of the running binary, links resolved: Linux /proc/self/exe, macOS
// _NSGetExecutablePath. Modules are found from it, and the daemon launches agents by it.
std::expected<std::string, std::string> own_executable();

// The module `file` for the binary at `executable` ("/usr/bin/liaison", "liaison-agent.so" →
// "/usr/lib/liaison/liaison-agent.so"); the same relation holds in the build tree.
std::string module_path(const std::string& executable, std::string_view file);

namespace internal {
// The module `file`'s table behind `symbol`, its version checked (the loaders above use it).
std::expected<const void*, std::string> load_module(std::string_view file, const char* symbol);
}  // namespace internal

// A module's entry table of type `Module` (whose first member is `const char* version`).
template <typename Module>
std::expected<const Module*, std::string> load_module(std::string_view file, const char* symbol) {
  auto table = internal::load_module(file, symbol);
  if (!table) {
    return std::unexpected(table.error());
  }
  return static_cast<const Module*>(*table);
}

}  // namespace liaison::cli
