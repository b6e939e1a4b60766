// Who is on the other end of a unix socket, by the kernel's word: SO_PEERCRED for uid, gid and
// pid, SO_PEERGROUPS (Linux 4.13+) for the supplementary groups, all as they were at connect().
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>

#include "daemon/peer_identity.h"

namespace liaison::platform {

class LinuxPeerIdentity final : public daemon::PeerIdentity {
 public:
  // Resolves `control_group` by name now. Without such a group only root may control.
  explicit LinuxPeerIdentity(const std::string& control_group = "liaison");

  std::expected<daemon::PeerCredentials, std::string> credentials_of(int socket_fd) const override;

  // Root, or a peer whose effective gid or supplementary groups at connect() included the
  // control group: the same groups the kernel checked against the socket's 0660 mode.
  bool may_control(const daemon::PeerCredentials& peer) const override;

  // The control group's gid, nullopt when the group does not exist (the socket then stays 0600).
  std::optional<gid_t> control_gid() const { return control_gid_; }

 private:
  std::optional<gid_t> control_gid_;
};

}  // namespace liaison::platform
