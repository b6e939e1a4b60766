// Who is on the other end of a unix socket, decided in one place, by the kernel's word only.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>
#include <vector>

namespace liaison::daemon {

struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  // Supplementary groups at connect() (SO_PEERGROUPS on Linux): a member of the control group
  // through a supplementary group is told apart only with these.
  std::vector<gid_t> groups;
};

class PeerIdentity {
 public:
  virtual ~PeerIdentity() = default;

  // The credentials the kernel recorded when the peer connected (SO_PEERCRED on Linux).
  virtual std::expected<PeerCredentials, std::string> credentials_of(int socket_fd) const = 0;

  // Whether `uid` may use the control socket: root, or a member of the `liaison` group.
  virtual bool may_control(const PeerCredentials& peer) const = 0;
};

}  // namespace liaison::daemon
