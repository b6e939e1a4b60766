// The clean environment of an agent started by the `exec` strategy, rebuilt from the session it
// belongs to (DESIGN.md, "Linux session environment for exec"). Nothing of the daemon's own
// environment reaches the agent.
//
// Two halves: build_agent_environment() is pure (unit-tested without root or a session);
// gather_environment_inputs() reads the system (passwd, the user's service manager, /proc).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/session.h"
#include "platform/linux/passwd.h"

namespace liaison::platform {

// What the agent's environment is built from.
struct EnvironmentInputs {
  PasswdEntry account;
  daemon::Session session;  // id, type, seat and display as logind knows them
  // KEY=VALUE entries of the user's service manager (systemctl --user show-environment).
  std::vector<std::string> manager_environment;
  // KEY=VALUE entries of the session's processes, the session leader first.
  std::vector<std::vector<std::string>> process_environments;
};

// The agent's PATH: fixed, never inherited.
inline constexpr char kAgentPath[] = "/usr/local/bin:/usr/bin:/bin";

// KEY=VALUE entries sorted by key: HOME, SHELL, USER, LOGNAME from passwd; PATH; XDG_RUNTIME_DIR
// and DBUS_SESSION_BUS_ADDRESS (always: with DISPLAY and no address libdbus autolaunches a
// private bus); XDG_SESSION_ID, XDG_SESSION_TYPE, XDG_SEAT (if any); DISPLAY, WAYLAND_DISPLAY,
// XAUTHORITY, XDG_CURRENT_DESKTOP, XDG_DATA_DIRS each from the first source with a valid value
// (logind, then the manager, then the session processes); LANG and LC_* from the manager.
// Values that fail validation (control characters, malformed displays or paths) are left out.
std::vector<std::string> build_agent_environment(const EnvironmentInputs& inputs);

struct GatherOptions {
  // Where the user's service manager listens; empty means /run/user/<uid>/systemd/private.
  std::string manager_socket_path;
  // The daemon's event loop waits this long at most for the manager.
  std::chrono::milliseconds manager_timeout{500};
  size_t max_processes = 64;
  size_t max_environ_bytes = 64 * std::size_t{1024};
};

// Reads everything build_agent_environment() needs for `session`. Only a missing passwd entry
// is an error; an absent or silent service manager and unreadable processes just contribute
// nothing (logged).
std::expected<EnvironmentInputs, std::string> gather_environment_inputs(
    const daemon::Session& session, const GatherOptions& options = {});

// gather_environment_inputs() then build_agent_environment(): the exec launcher's default
// environment provider.
std::expected<std::vector<std::string>, std::string> agent_environment_for(
    const daemon::Session& session);

// The `Environment` property of the systemd manager listening on `socket_path` (its private,
// bus-less socket; it accepts root and its own user). Empty when nothing listens there. An error
// when the listener is not `expected_uid` or does not answer within `timeout`.
std::expected<std::vector<std::string>, std::string> read_manager_environment(
    const std::string& socket_path, uid_t expected_uid, std::chrono::milliseconds timeout);

// The cgroup.procs files that may list the members of the cgroup a process is in, given the
// text of its /proc/<pid>/cgroup, most likely first: the unified hierarchy ("0::" line) mounted
// at /sys/fs/cgroup (cgroup v2) or /sys/fs/cgroup/unified (hybrid), then the named systemd v1
// hierarchy at /sys/fs/cgroup/systemd (legacy, hybrid). The root cgroup is never a candidate.
std::vector<std::string> cgroup_procs_candidates(std::string_view proc_pid_cgroup);

// KEY=VALUE entries of /proc/<pid>/environ, at most `max_bytes` read (a cut-off entry is dropped),
// or nullopt when the process is gone or its real or effective uid is not `uid`.
std::optional<std::vector<std::string>> read_process_environment(pid_t pid, uid_t uid,
                                                                 size_t max_bytes);

// The display variables (DISPLAY, WAYLAND_DISPLAY, XAUTHORITY, XDG_CURRENT_DESKTOP) of session
// `session_id` as its own processes have them now, else DISPLAY from logind. For the agent, as
// the session's user, at the moment it needs a display: its own environment was fixed at launch,
// often before the desktop existed, and the user manager's may belong to another of the user's
// sessions. Empty when nothing is known.
std::vector<std::string> current_session_display_environment(const std::string& session_id);

}  // namespace liaison::platform
