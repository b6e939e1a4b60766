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

class DarwinPeerIdentity final : public daemon::PeerIdentity {
 public:
  // Resolves `control_group` by name now; without such a group only root may control.
  explicit DarwinPeerIdentity(const std::string& control_group = "liaison");

  std::expected<daemon::PeerCredentials, std::string> credentials_of(int socket_fd) const override;
  bool may_control(const daemon::PeerCredentials& peer) const override;

 private:
  std::optional<gid_t> control_gid_;
};

// Whether the process that connected `socket_fd` satisfies `requirement` (for example
// team_code_requirement(...)), judged by its audit token, which unlike a pid cannot be reused.
// An error says why it could not be decided; false means it was decided and failed.
std::expected<bool, std::string> peer_satisfies_requirement(int socket_fd,
                                                            const std::string& requirement);

}  // namespace liaison::platform::macos
