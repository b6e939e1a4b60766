// The console user as `scutil` prints `show State:/Users/ConsoleUser`, and the rules that say who
// is at the screen and which GUI sessions exist. The Apple-only session source reads the same key
// through SCDynamicStore; keeping the rules here lets Linux tests run them on real macOS output.
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/session.h"

namespace liaison::platform::macos {

// The first uid macOS gives a person; below it are system accounts (88 _windowserver, 0 root).
inline constexpr uid_t kFirstHumanUid = 501;

// One value of scutil's dictionary printout: a scalar, a dictionary, or an array whose keys are
// the printed indices ("0", "1").
struct ScutilNode {
  enum class Kind { kScalar, kDictionary, kArray };
  // A named member, not a std::pair: a pair of a still-incomplete type is undefined (clang
  // refuses it), a vector of one is allowed.
  struct Child;

  Kind kind = Kind::kScalar;
  std::string scalar;
  std::vector<Child> children;

  const ScutilNode* find(std::string_view key) const;
};

struct ScutilNode::Child {
  std::string key;
  ScutilNode value;
};

// Parses scutil's `<dictionary> { ... }` text. An error for text that is not that format or stops
// before its containers close. "No such key" (the key is absent) is not an error: nullopt.
std::expected<std::optional<ScutilNode>, std::string> parse_scutil_dictionary(
    std::string_view text);

// One GUI session from SessionInfo (the same array as IORegistry's IOConsoleUsers).
struct ConsoleSessionEntry {
  std::string session_id;  // kCGSSessionIDKey
  std::optional<uid_t> uid;
  std::string user;  // kCGSSessionUserNameKey
  bool on_console = false;
  friend bool operator==(const ConsoleSessionEntry&, const ConsoleSessionEntry&) = default;
};

// State:/Users/ConsoleUser. `name` is absent before the first login after boot; it can be the
// last user to log in rather than the one on screen, so the rules below look at SessionInfo.
struct ConsoleUserState {
  std::optional<std::string> name;
  std::optional<uid_t> uid;
  std::vector<ConsoleSessionEntry> sessions;
};

ConsoleUserState console_user_state_from(const ScutilNode& dictionary);

// scutil text to state; an absent key ("No such key") is the empty state.
std::expected<ConsoleUserState, std::string> parse_console_user_state(std::string_view text);

// True for accounts that never get an agent: the login window and Setup Assistant's user.
bool is_system_console_name(std::string_view name);

// Who is at the screen, or nullopt when nobody is: the login window (even if SessionInfo still
// marks someone on console under fast user switching), before the first login, a system account,
// or the fast-user-switching mismatch where the on-console entry and the top-level UID disagree
// (seen on macOS 12.6; kolide/launcher reports no user then, and so do we).
std::optional<uid_t> user_on_console(const ConsoleUserState& state);

// Every person's GUI session as a daemon::Session (type "aqua", class "user"): "active" for the
// one on screen, "online" for the others kept alive by fast user switching.
std::vector<daemon::Session> gui_sessions(const ConsoleUserState& state);

}  // namespace liaison::platform::macos
