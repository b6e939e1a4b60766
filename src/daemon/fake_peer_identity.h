// A PeerIdentity for tests: the test says who connects next, separately for agent.sock and
// control.sock, since agents and control clients connect independently of each other.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <deque>
#include <set>
#include <string_view>

#include "daemon/peer_identity.h"

namespace liaison::daemon {

class FakePeerIdentity final : public PeerIdentity {
 public:
  explicit FakePeerIdentity(uid_t default_uid) : default_uid_(default_uid) {}

  // The next connection to agent.sock (or control.sock) claims `uid`; later ones the default.
  void next_agent_is(uid_t uid) { next_agent_.push_back(uid); }
  void next_controller_is(uid_t uid) { next_controller_.push_back(uid); }
  void forbid_control(uid_t uid) { forbidden_.insert(uid); }

  std::expected<PeerCredentials, std::string> credentials_of(int socket_fd) const override {
    auto& queue = is_agent_socket(socket_fd) ? next_agent_ : next_controller_;
    uid_t uid = default_uid_;
    if (!queue.empty()) {
      uid = queue.front();
      queue.pop_front();
    }
    return PeerCredentials{uid, uid, ::getpid(), {}};
  }
  bool may_control(const PeerCredentials& peer) const override {
    return !forbidden_.contains(peer.uid);
  }

 private:
  static bool is_agent_socket(int socket_fd) {
    sockaddr_un address{};
    socklen_t length = sizeof(address);
    if (::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
    return std::string_view(address.sun_path).ends_with("/agent.sock");
  }

  uid_t default_uid_;
  mutable std::deque<uid_t> next_agent_;
  mutable std::deque<uid_t> next_controller_;
  std::set<uid_t> forbidden_;
};

}  // namespace liaison::daemon
