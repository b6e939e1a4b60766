// The control method presence.check (issue 26; docs/protocol.md): asks the person at a user's
// session to prove it is them, through a PresenceVerifier whose answer none of the user's own
// processes can give. At most one check is open per session; a check ends with the answer, when
// its timeout passes, or when its caller hangs up, and the last two withdraw the prompt.
//   presence.check {user?, session?, reason, timeout?} (a user, a session, or both)
//     -> {session, uid, user, result, detail?}, result one of confirmed, denied, timeout,
//        no_agent, unavailable, busy
// The wait costs the loop nothing: a timer and the verifier's reply, no thread.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/agent_supervisor.h"
#include "daemon/hang_up_notice.h"
#include "daemon/presence_verifier.h"
#include "daemon/users.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {

// A reason is one line or two on a prompt, shown as plain text.
inline constexpr std::size_t kMaxPresenceReasonBytes = 256;
inline constexpr std::chrono::seconds kDefaultPresenceTimeout{60};
inline constexpr std::chrono::seconds kMaxPresenceTimeout{600};

struct PresenceRequest {
  std::string user;     // a name or a numeric uid, as given; empty: the session's user
  std::string session;  // empty: the user's active graphical session
  std::string reason;
  std::chrono::seconds timeout = kDefaultPresenceTimeout;
};

// Checks presence.check's params: a user or a session (or both), a reason of 1-256 bytes
// without control characters, a timeout of 1-600 seconds.
protocol::Result<PresenceRequest> parse_presence_request(const protocol::Json& params);

// Which of `sessions` (the user's, in the supervisor's order) a check without --session asks:
// the active one, preferring one with a seat (the console); an error naming them when several
// remain, so no prompt appears on a screen nobody chose.
protocol::Result<Session> choose_presence_session(const std::vector<Session>& sessions,
                                                  const std::string& user);

class PresenceService {
 public:
  // `verifier` null: every check answers `unavailable`.
  PresenceService(asio::io_context& io, AgentSupervisor& agents, PresenceVerifier* verifier,
                  UserLookup users)
      : io_(io), agents_(agents), verifier_(verifier), users_(std::move(users)) {}

  static bool handles(const std::string& method) { return method == "presence.check"; }

  // `caller` says when the control connection that asked goes away.
  asio::awaitable<protocol::Result<protocol::Json>> handle(protocol::Request request,
                                                           std::shared_ptr<HangUpNotice> caller);

 private:
  asio::awaitable<protocol::Result<Session>> find_session(const PresenceRequest& request);
  asio::awaitable<PresenceOutcome> ask(const Session& session, const PresenceRequest& request,
                                       HangUpNotice& caller);

  asio::io_context& io_;
  AgentSupervisor& agents_;
  PresenceVerifier* verifier_;
  UserLookup users_;
  // Sessions with a check in flight.
  std::shared_ptr<std::set<std::string>> open_sessions_ = std::make_shared<std::set<std::string>>();
};

}  // namespace liaison::daemon
