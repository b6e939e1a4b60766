// A login session as the daemon sees it: who, what kind, and whether it is on screen.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/config.h"

namespace liaison::daemon {

struct Session {
  std::string id;  // logind's session id ("3", "c1"); on macOS the CGSession id
  uid_t uid = 0;
  std::string user;           // login name, resolved from the uid
  std::string type;           // x11, wayland, mir, tty, unspecified
  std::string session_class;  // user, greeter, lock-screen, background, manager
  std::string state;          // active, online, closing
  std::string seat;           // empty when the session has none (remote, wayland headless)
  std::string display;        // X11 DISPLAY as logind knows it; often empty
  bool remote = false;
  pid_t leader = 0;

  bool active() const { return state == "active"; }
  friend bool operator==(const Session&, const Session&) = default;
};

// Which sessions get an agent. Defaults follow DESIGN.md; [sessions] in the config widens them.
struct EligibilityRules {
  bool include_remote = false;
  bool include_tty = false;
  uid_t min_uid = kDefaultMinUid;

  static EligibilityRules from(const Config::Sessions& sessions) {
    return {sessions.include_remote, sessions.include_tty, sessions.min_uid};
  }
};

// Why a session gets no agent, or nullopt-like empty string when it does: logged once per session
// so an operator can see why a login was skipped.
std::string ineligibility_reason(const Session& session, const EligibilityRules& rules);

inline bool is_eligible(const Session& session, const EligibilityRules& rules) {
  return ineligibility_reason(session, rules).empty();
}

}  // namespace liaison::daemon
