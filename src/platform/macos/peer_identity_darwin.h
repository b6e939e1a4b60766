// Apple only. Who is on the other end of a unix socket on macOS: getpeereid and LOCAL_PEERCRED
// for uid, gid and groups, LOCAL_PEERPID for the pid, and the audit token (LOCAL_PEERTOKEN)
// checked against a code-signing requirement (peer_token.h) for "is this our signed agent".
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>

#include "daemon/peer_identity.h"

namespace liaison::platform::macos {

// Connections to the agent socket must come from our signed agent: checked by audit token
// against `requirement` (team_code_requirement(team, "dev.liaison.agent")).
struct AgentCodeCheck {
  std::string agent_socket_path;
  std::string requirement;
};

class DarwinPeerIdentity final : public daemon::PeerIdentity {
 public:
  // Resolves `control_group` by name now; without such a group only root may control. With
  // `agent_check`, credentials_of() fails for a peer of the agent socket whose code does not
  // satisfy the requirement, so the daemon drops it before it can say hello.
  explicit DarwinPeerIdentity(const std::string& control_group = "liaison",
                              std::optional<AgentCodeCheck> agent_check = std::nullopt);

  std::expected<daemon::PeerCredentials, std::string> credentials_of(int socket_fd) const override;
  bool may_control(const daemon::PeerCredentials& peer) const override;

 private:
  std::optional<gid_t> control_gid_;
  std::optional<AgentCodeCheck> agent_check_;
};

// The Team ID this process is signed with (SecCodeCopySelf, kSecCodeInfoTeamIdentifier); an
// error for an unsigned or ad-hoc signed build, which has none.
std::expected<std::string, std::string> own_team_identifier();

// Whether the process that connected `socket_fd` satisfies `requirement` (for example
// team_code_requirement(...)), judged by its audit token, which unlike a pid cannot be reused.
// An error says why it could not be decided; false means it was decided and failed.
std::expected<bool, std::string> peer_satisfies_requirement(int socket_fd,
                                                            const std::string& requirement);

}  // namespace liaison::platform::macos
