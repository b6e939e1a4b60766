// How the daemon asks the person at a session to prove it is them (issue 26, `presence.check`):
// an authority the user's own processes cannot answer for. Linux: polkit's CheckAuthorization
// about `dev.liaison.presence`, which the session's registered authentication agent prompts for
// and polkitd (root) decides (platform/linux/polkit_presence.h). macOS: a signature by a Secure
// Enclave key that only Touch ID or the password unlocks, verified by the daemon.
//
// A check is a long wait on a human: seconds to minutes. start() only sends the request; the
// answer arrives on the daemon's loop through `done`. Nothing here blocks.
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/session.h"

namespace liaison::daemon {

enum class PresenceResult {
  kConfirmed,    // the user authenticated
  kDenied,       // wrong credentials, or they cancelled the prompt
  kTimeout,      // nobody answered in time; the prompt was withdrawn
  kNoAgent,      // nothing in that session can ask (the detail says which part is missing)
  kUnavailable,  // the platform cannot ask at all (no polkitd, no policy, no Secure Enclave)
  kBusy,         // a check of that session is open already
};

// The stable string of docs/protocol.md ("confirmed", "no_agent", ...).
std::string_view presence_result_name(PresenceResult result);

struct PresenceOutcome {
  PresenceResult result = PresenceResult::kUnavailable;
  std::string detail;  // why, for an operator; empty for confirmed and denied
};

// A check in flight. Destroying it withdraws the question (polkit: CancelCheckAuthorization)
// and guarantees `done` is not called afterwards.
class PendingPresenceCheck {
 public:
  virtual ~PendingPresenceCheck() = default;
};

class PresenceVerifier {
 public:
  using Done = std::function<void(PresenceOutcome)>;

  virtual ~PresenceVerifier() = default;

  // Asks the user of `session` (uid > 0) to confirm it is them, showing `reason` as plain text.
  // `done` runs once, on the loop, with the answer, unless the returned check is destroyed
  // first. An immediate failure (no system bus, the session has no process to name) is returned
  // instead of a check, and `done` is never called for it.
  virtual std::expected<std::unique_ptr<PendingPresenceCheck>, PresenceOutcome> start(
      const Session& session, const std::string& reason, Done done) = 0;
};

}  // namespace liaison::daemon
