// The daemon and the agent, as the command line reaches them. On Linux they live in a shared
// module of their own, liaison-service.so, installed beside the binary in ../lib/liaison/ and
// loaded only by `liaison daemon` and `liaison agent`: the client commands (notify, sessions,
// key, doctor, version, launch-agent) then start without tss2, libsystemd or the daemon's code
// in the process (issue 13: `liaison --help` cost 3.5 ms, most of it binding those libraries).
// The process stays /usr/bin/liaison, so the agent's peer check (/proc/<pid>/exe is the
// installed binary) and the units are as DESIGN.md has them. macOS links both into the binary:
// it is one app bundle's executable, and launchd and TCC know it by that.
#pragma once

#include <expected>
#include <string>

#include "cli/commands.h"

namespace liaison::cli {

// What the module exports: its liaison version, checked against the binary's so a binary never
// runs a module of another release (a half-finished upgrade, a stale copy), and the two commands.
struct ServiceEntryPoints {
  const char* version;
  int (*run_daemon)(const DaemonFlags& flags);
  int (*run_agent)();
};

// Linux: dlopen()s the module (a few ms: tss2, libsystemd, OpenSSL and their relocations) and
// returns its entry points, or a message saying which file could not be loaded and why. The
// module is found from /proc/self/exe, never from the environment or the library search path.
// macOS: the entry points linked into the binary; never fails.
std::expected<ServiceEntryPoints, std::string> load_service();

// The module's path for the binary at `executable` ("/usr/bin/liaison" →
// "/usr/lib/liaison/liaison-service.so"); the same relation holds in the build tree.
std::string service_module_path(const std::string& executable);

}  // namespace liaison::cli
