// Apple only, not compiled on the Linux build host: see docs/macos.md "verified here".
#include "platform/macos/peer_identity_darwin.h"

#include <Security/Security.h>
#include <bsm/libbsm.h>
#include <fmt/format.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/ucred.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <type_traits>

#include "platform/macos/osstatus_errors.h"

namespace liaison::platform::macos {
namespace {

// Owns a CoreFoundation reference (Create/Copy rule).
template <typename T>
struct CfRelease {
  void operator()(T ref) const {
    if (ref) CFRelease(ref);
  }
};
template <typename T>
using CfPtr = std::unique_ptr<std::remove_pointer_t<T>, CfRelease<T>>;

std::string errno_text(const char* what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

std::string status_text(const char* what, OSStatus status) {
  return osstatus_error(what, status).message;
}

// The path the socket `fd` was accepted on (getsockname of an accepted unix socket names the
// listening socket's path).
std::string local_path_of(int fd) {
  sockaddr_un address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      address.sun_family != AF_UNIX) {
    return {};
  }
  return std::string(address.sun_path, strnlen(address.sun_path, sizeof address.sun_path));
}

}  // namespace

DarwinPeerIdentity::DarwinPeerIdentity(const std::string& control_group,
                                       std::optional<AgentCodeCheck> agent_check)
    : agent_check_(std::move(agent_check)) {
  if (const group* entry = getgrnam(control_group.c_str())) control_gid_ = entry->gr_gid;
}

std::expected<daemon::PeerCredentials, std::string> DarwinPeerIdentity::credentials_of(
    int socket_fd) const {
  daemon::PeerCredentials peer;
  if (getpeereid(socket_fd, &peer.uid, &peer.gid) != 0) {
    return std::unexpected(errno_text("getpeereid"));
  }
  xucred credentials{};
  socklen_t length = sizeof credentials;
  if (getsockopt(socket_fd, SOL_LOCAL, LOCAL_PEERCRED, &credentials, &length) != 0 ||
      credentials.cr_version != XUCRED_VERSION) {
    return std::unexpected(errno_text("LOCAL_PEERCRED"));
  }
  peer.groups.assign(credentials.cr_groups, credentials.cr_groups + credentials.cr_ngroups);
  length = sizeof peer.pid;
  if (getsockopt(socket_fd, SOL_LOCAL, LOCAL_PEERPID, &peer.pid, &length) != 0) {
    return std::unexpected(errno_text("LOCAL_PEERPID"));
  }
  if (agent_check_ && local_path_of(socket_fd) == agent_check_->agent_socket_path) {
    auto satisfied = peer_satisfies_requirement(socket_fd, agent_check_->requirement);
    if (!satisfied) return std::unexpected(fmt::format("pid {}: {}", peer.pid, satisfied.error()));
    if (!*satisfied) {
      return std::unexpected(fmt::format("pid {} is not liaison's signed agent ({})", peer.pid,
                                         agent_check_->requirement));
    }
  }
  return peer;
}

bool DarwinPeerIdentity::may_control(const daemon::PeerCredentials& peer) const {
  if (peer.uid == 0) return true;
  if (!control_gid_) return false;
  return peer.gid == *control_gid_ ||
         std::ranges::find(peer.groups, *control_gid_) != peer.groups.end();
}

std::expected<std::string, std::string> own_team_identifier() {
  SecCodeRef raw_self = nullptr;
  OSStatus status = SecCodeCopySelf(kSecCSDefaultFlags, &raw_self);
  CfPtr<SecCodeRef> self(raw_self);
  if (status != errSecSuccess) return std::unexpected(status_text("SecCodeCopySelf", status));
  SecStaticCodeRef raw_static = nullptr;
  status = SecCodeCopyStaticCode(self.get(), kSecCSDefaultFlags, &raw_static);
  CfPtr<SecStaticCodeRef> static_code(raw_static);
  if (status != errSecSuccess) return std::unexpected(status_text("SecCodeCopyStaticCode", status));
  CFDictionaryRef raw_information = nullptr;
  status =
      SecCodeCopySigningInformation(static_code.get(), kSecCSSigningInformation, &raw_information);
  CfPtr<CFDictionaryRef> information(raw_information);
  if (status != errSecSuccess) {
    return std::unexpected(status_text("SecCodeCopySigningInformation", status));
  }
  const auto team =
      static_cast<CFStringRef>(CFDictionaryGetValue(information.get(), kSecCodeInfoTeamIdentifier));
  if (team == nullptr || CFGetTypeID(team) != CFStringGetTypeID()) {
    return std::unexpected(
        std::string("this build is not signed with a Team ID (unsigned or ad hoc)"));
  }
  char buffer[64] = {};
  if (!CFStringGetCString(team, buffer, sizeof buffer, kCFStringEncodingUTF8)) {
    return std::unexpected(std::string("unreadable Team ID"));
  }
  return std::string(buffer);
}

std::expected<bool, std::string> peer_satisfies_requirement(int socket_fd,
                                                            const std::string& requirement) {
  // LOCAL_PEERTOKEN (0x006) gives the 32-byte audit token; 0x005 would be the UUID instead.
  audit_token_t token{};
  socklen_t length = sizeof token;
  if (getsockopt(socket_fd, SOL_LOCAL, LOCAL_PEERTOKEN, &token, &length) != 0 ||
      length != sizeof token) {
    return std::unexpected(errno_text("LOCAL_PEERTOKEN"));
  }
  CfPtr<CFDataRef> token_data(
      CFDataCreate(nullptr, reinterpret_cast<const UInt8*>(&token), sizeof token));
  const void* keys[] = {kSecGuestAttributeAudit};
  const void* values[] = {token_data.get()};
  CfPtr<CFDictionaryRef> attributes(CFDictionaryCreate(
      nullptr, keys, values, 1, &kCFTypeDictionaryKeyCallBacks, &kCFTypeDictionaryValueCallBacks));

  SecCodeRef raw_code = nullptr;
  OSStatus status =
      SecCodeCopyGuestWithAttributes(nullptr, attributes.get(), kSecCSDefaultFlags, &raw_code);
  CfPtr<SecCodeRef> code(raw_code);
  if (status != errSecSuccess) {
    return std::unexpected(status_text("finding the peer's code", status));
  }

  CfPtr<CFStringRef> requirement_text(
      CFStringCreateWithCString(nullptr, requirement.c_str(), kCFStringEncodingUTF8));
  SecRequirementRef raw_requirement = nullptr;
  status =
      SecRequirementCreateWithString(requirement_text.get(), kSecCSDefaultFlags, &raw_requirement);
  CfPtr<SecRequirementRef> compiled(raw_requirement);
  if (status != errSecSuccess) {
    return std::unexpected(status_text("compiling the code requirement", status));
  }
  // errSecCSReqFailed is the "decided: no" answer; anything else means it could not be checked.
  status = SecCodeCheckValidity(code.get(), kSecCSDefaultFlags, compiled.get());
  if (status == errSecSuccess) return true;
  if (status == errSecCSReqFailed) return false;
  return std::unexpected(status_text("checking the peer's signature", status));
}

}  // namespace liaison::platform::macos
