#include "platform/linux/peer_credentials.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <vector>

#include "common/log.h"
#include "platform/linux/passwd.h"

namespace liaison::platform {
namespace {

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

// The peer's supplementary groups at connect(). Kernels before 4.13 lack SO_PEERGROUPS: the
// peer then counts with its effective gid alone (never more than the kernel vouches for).
std::expected<std::vector<gid_t>, std::string> peer_groups(int socket_fd) {
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
      groups.resize(length / sizeof(gid_t));
      return groups;
    }
    if (errno == ENOPROTOOPT) {
      return std::vector<gid_t>();
    }
    // ERANGE: the kernel wrote the size it needs into `length`.
    if (errno != ERANGE) {
      return std::unexpected(fmt::format("SO_PEERGROUPS: {}", errno_text(errno)));
    }
    groups.resize(length / sizeof(gid_t) + 1);
  }
  return std::unexpected("SO_PEERGROUPS: the group list keeps growing");
}

std::optional<gid_t> resolve_group(const std::string& name) {
  auto gid = group_id_by_name(name);
  if (!gid) {
    log::warning(fmt::format("control group {}: {}; only root may control", name, gid.error()));
    return std::nullopt;
  }
  return *gid;
}

}  // namespace

LinuxPeerIdentity::LinuxPeerIdentity(const std::string& control_group)
    : control_gid_(resolve_group(control_group)) {}

std::expected<daemon::PeerCredentials, std::string> LinuxPeerIdentity::credentials_of(
    int socket_fd) const {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return std::unexpected(fmt::format("SO_PEERCRED: {}", errno_text(errno)));
  }
  auto groups = peer_groups(socket_fd);
  if (!groups) {
    return std::unexpected(groups.error());
  }
  return daemon::PeerCredentials{
      .uid = credentials.uid,
      .gid = credentials.gid,
      .pid = credentials.pid,
      .groups = std::move(*groups),
  };
}

bool LinuxPeerIdentity::may_control(const daemon::PeerCredentials& peer) const {
  if (peer.uid == 0) {
    return true;
  }
  if (!control_gid_) {
    return false;
  }
  return peer.gid == *control_gid_ ||
         std::find(peer.groups.begin(), peer.groups.end(), *control_gid_) != peer.groups.end();
}

}  // namespace liaison::platform
